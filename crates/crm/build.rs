//! Link flags of the server binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu {
        // Relative relocations in the compact RELR form (binutils 2.38, glibc 2.36): the table
        // the loader reads at every start shrinks from megabytes to kilobytes, and so does the
        // resident memory of an idle node.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

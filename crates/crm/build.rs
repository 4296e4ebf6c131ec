//! Link flags of the server binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=startup.order");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.ends_with("-linux-gnu") {
        // Relative relocations in the compact RELR form (binutils 2.38, glibc 2.36): the table
        // the loader reads at every start shrinks from megabytes to kilobytes, and so does the
        // resident memory of an idle node.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // rustc links this target with its own LLD from 1.90 on; GNU ld knows no ordering file.
    if target == "x86_64-unknown-linux-gnu" && version_check::is_min_version("1.90.0") == Some(true)
    {
        // The functions that start-up and an idle node run, placed together
        // (tests/bench/startup-order.sh writes the list): the kernel maps 64 KB of code around
        // each page a process first runs, and scattered over the binary those pages made most
        // of an idle node's memory. A name the list holds and the build lacks is skipped.
        let order = concat!(env!("CARGO_MANIFEST_DIR"), "/startup.order");
        println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

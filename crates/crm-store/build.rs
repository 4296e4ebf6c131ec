//! `embed_migrations!` reads the migration directories at compile time; without this, a new
//! migration directory would not rebuild the crate, and the binary would run without it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}

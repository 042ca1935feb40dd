//! The migrations are embedded at compile time (`refinery::embed_migrations!`
//! in src/db.rs); without this, adding or editing a migration would not
//! rebuild the host.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

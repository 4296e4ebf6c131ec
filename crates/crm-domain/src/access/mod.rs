pub mod permissions;
pub mod roles;

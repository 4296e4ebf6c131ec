pub mod actors;
pub mod admins;
pub mod permissions;
pub mod roles;

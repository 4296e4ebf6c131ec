pub mod actors;
pub mod admins;
pub mod logins;
pub mod permissions;
pub mod roles;

pub mod address;
pub mod exchange;
pub mod merge_patch;
pub mod money;
pub mod text;
pub mod time;
pub mod transitions;
pub mod validation;

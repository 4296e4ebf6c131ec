//! The `crm` command, built inside the tests package so that tests can run it as separate
//! processes (several API nodes on one database).
fn main() -> std::process::ExitCode {
    crm::cli::main()
}

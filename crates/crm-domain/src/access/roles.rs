text_enum! {
    /// Who a principal is, which decides what it may do (see `permissions`).
    Role {
        Admin => "admin",
        Manager => "manager",
        Sales => "sales",
        Support => "support",
        Integration => "integration",
        /// A portal user bound to one company; sees only that company's records.
        Customer => "customer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_role() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
        }
    }

    #[test]
    fn rejects_unknown_and_differently_cased_roles() {
        assert!("Admin".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
    }
}

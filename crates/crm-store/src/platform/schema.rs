// Hand-written to the subset of types both backends share (Text, BigInt, Integer, Bool,
// Timestamp, Binary). `tests` compares it against both migration trees.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        company_id -> Nullable<Text>,
        active -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        manager_id -> Nullable<Text>,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        name -> Text,
        legal_name -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        billing_line1 -> Nullable<Text>,
        billing_line2 -> Nullable<Text>,
        billing_city -> Nullable<Text>,
        billing_region -> Nullable<Text>,
        billing_postal_code -> Nullable<Text>,
        billing_country -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        website -> Nullable<Text>,
        industry -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        tier -> Nullable<Text>,
        tags -> Text,
        preferences -> Text,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        tier_basis_year -> Nullable<BigInt>,
        custom_fields -> Text,
        merged_into_id -> Nullable<Text>,
        tax_key -> Nullable<Text>,
        domain_key -> Nullable<Text>,
        name_key -> Nullable<Text>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Text,
        company_id -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Text,
        email -> Nullable<Text>,
        email_key -> Nullable<Text>,
        phone -> Nullable<Text>,
        title -> Nullable<Text>,
        lifecycle_stage -> Text,
        owner_id -> Nullable<Text>,
        tags -> Text,
        preferences -> Text,
        marketing_consent -> Bool,
        marketing_consent_at -> Nullable<Timestamp>,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        custom_fields -> Text,
        merged_into_id -> Nullable<Text>,
        email_base -> Nullable<Text>,
        name_key -> Nullable<Text>,
        birthday -> Nullable<Date>,
        locale -> Nullable<Text>,
    }
}

diesel::table! {
    interactions (id) {
        id -> Text,
        contact_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        kind -> Text,
        direction -> Nullable<Text>,
        subject -> Nullable<Text>,
        body -> Nullable<Text>,
        occurred_at -> Nullable<Timestamp>,
        scheduled_for -> Nullable<Timestamp>,
        timeline_at -> Timestamp,
        user_id -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        scopes -> Text,
        created_by -> Nullable<Text>,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        rate_limit_per_minute -> Nullable<BigInt>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Text,
        email -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (principal, idempotency_key) {
        principal -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_headers -> Nullable<Text>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        sku -> Text,
        name -> Text,
        description -> Nullable<Text>,
        currency -> Text,
        unit_price_minor -> BigInt,
        unit_cost_minor -> Nullable<BigInt>,
        tax_rate_bp -> BigInt,
        active -> Bool,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    quotes (id) {
        id -> Text,
        number -> Text,
        revision -> BigInt,
        previous_revision_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        currency -> Text,
        valid_until -> Nullable<Date>,
        status -> Text,
        reject_reason -> Nullable<Text>,
        notes -> Nullable<Text>,
        subtotal_minor -> BigInt,
        discount_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        order_id -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        opportunity_id -> Nullable<Text>,
        campaign_id -> Nullable<Text>,
    }
}

diesel::table! {
    quote_lines (id) {
        id -> Text,
        quote_id -> Text,
        position -> BigInt,
        product_id -> Nullable<Text>,
        description -> Text,
        quantity_milli -> BigInt,
        unit_price_minor -> BigInt,
        unit_cost_minor -> Nullable<BigInt>,
        discount_bp -> BigInt,
        tax_rate_bp -> BigInt,
        gross_minor -> BigInt,
        discount_minor -> BigInt,
        net_minor -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        channel -> Text,
        external_id -> Text,
        contact_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        quote_id -> Nullable<Text>,
        currency -> Text,
        status -> Text,
        ordered_at -> Timestamp,
        salesperson_id -> Nullable<Text>,
        campaign_id -> Nullable<Text>,
        payload_hash -> Text,
        subtotal_minor -> BigInt,
        discount_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        cost_minor -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        prices_include_tax -> Bool,
        connection_id -> Nullable<Text>,
        shop_number -> Nullable<Text>,
        shop_updated_at -> Nullable<Timestamp>,
        custom_fields -> Text,
        utm -> Nullable<Text>,
    }
}

diesel::table! {
    order_lines (id) {
        id -> Text,
        order_id -> Text,
        position -> BigInt,
        product_id -> Nullable<Text>,
        sku -> Nullable<Text>,
        description -> Text,
        quantity_milli -> BigInt,
        unit_price_minor -> BigInt,
        unit_cost_minor -> Nullable<BigInt>,
        discount_bp -> BigInt,
        tax_rate_bp -> BigInt,
        gross_minor -> BigInt,
        discount_minor -> BigInt,
        net_minor -> BigInt,
        kind -> Text,
        stated_tax_minor -> Nullable<BigInt>,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    leads (id) {
        id -> Text,
        source -> Text,
        status -> Text,
        owner_id -> Nullable<Text>,
        score -> Nullable<BigInt>,
        estimated_value_minor -> Nullable<BigInt>,
        estimated_value_currency -> Nullable<Text>,
        notes -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        company_name -> Nullable<Text>,
        disqualify_reason -> Nullable<Text>,
        converted_contact_id -> Nullable<Text>,
        converted_company_id -> Nullable<Text>,
        converted_quote_id -> Nullable<Text>,
        converted_at -> Nullable<Timestamp>,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        custom_fields -> Text,
        campaign_id -> Nullable<Text>,
    }
}

diesel::table! {
    pipelines (id) {
        id -> Text,
        name -> Text,
        is_default -> Bool,
        won_on_quote_accept -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pipeline_stages (id) {
        id -> Text,
        pipeline_id -> Text,
        name -> Text,
        position -> BigInt,
        probability_bp -> BigInt,
        outcome -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    opportunities (id) {
        id -> Text,
        name -> Text,
        company_id -> Text,
        contact_id -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        pipeline_id -> Text,
        stage_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        probability_bp -> Nullable<BigInt>,
        expected_close_date -> Date,
        lead_id -> Nullable<Text>,
        campaign_id -> Nullable<Text>,
        next_step -> Nullable<Text>,
        loss_reason -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
        custom_fields -> Text,
    }
}

diesel::table! {
    opportunity_stage_changes (id) {
        id -> Text,
        opportunity_id -> Text,
        from_stage_id -> Nullable<Text>,
        to_stage_id -> Text,
        changed_by -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    exchange_rates (currency, rate_date) {
        currency -> Text,
        rate_date -> Date,
        rate -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    events (position) {
        position -> BigInt,
        tx -> BigInt,
        id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        subject_id -> Text,
        occurred_at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Text,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        fanout_tx -> BigInt,
        fanout_position -> BigInt,
        failing_since -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_tx -> BigInt,
        event_position -> BigInt,
        status -> Text,
        attempt_count -> Integer,
        next_attempt_at -> Timestamp,
        claim_token -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
        response_snippet -> Nullable<Text>,
    }
}

diesel::joinable!(opportunities -> pipeline_stages (stage_id));
diesel::table! {
    company_settings (id) {
        id -> Text,
        legal_name -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        address_city -> Nullable<Text>,
        address_region -> Nullable<Text>,
        address_postal_code -> Nullable<Text>,
        address_country -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        version -> BigInt,
        updated_at -> Timestamp,
        fiscal_time_zone -> Text,
    }
}

diesel::table! {
    invoice_series (id) {
        id -> Text,
        code -> Text,
        prefix -> Text,
        kind -> Text,
        is_default -> Bool,
        yearly_reset -> Bool,
        current_year -> Nullable<BigInt>,
        last_number -> BigInt,
        last_hash -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invoices (id) {
        id -> Text,
        kind -> Text,
        series_id -> Text,
        number -> Nullable<Text>,
        sequence -> Nullable<BigInt>,
        status -> Text,
        company_id -> Text,
        currency -> Text,
        issue_date -> Nullable<Date>,
        due_date -> Nullable<Date>,
        notes -> Nullable<Text>,
        corrects_invoice_id -> Nullable<Text>,
        correction_reason -> Nullable<Text>,
        agreement_id -> Nullable<Text>,
        issuer_snapshot -> Nullable<Text>,
        recipient_snapshot -> Nullable<Text>,
        subtotal_minor -> BigInt,
        discount_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        credited_minor -> BigInt,
        paid_minor -> BigInt,
        previous_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
        issued_at -> Nullable<Timestamp>,
        decided_at -> Nullable<Timestamp>,
        dispute_reason -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        chain_format -> BigInt,
        mentions -> Nullable<Text>,
    }
}

diesel::table! {
    invoice_lines (id) {
        id -> Text,
        invoice_id -> Text,
        position -> BigInt,
        is_credit -> Bool,
        released -> Bool,
        order_id -> Nullable<Text>,
        order_line_id -> Nullable<Text>,
        product_id -> Nullable<Text>,
        description -> Text,
        quantity_milli -> BigInt,
        unit_price_minor -> BigInt,
        discount_bp -> BigInt,
        tax_rate_bp -> BigInt,
        gross_minor -> BigInt,
        discount_minor -> BigInt,
        net_minor -> BigInt,
        credits_line_id -> Nullable<Text>,
        stated_tax_minor -> Nullable<BigInt>,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        invoice_id -> Text,
        amount_minor -> BigInt,
        paid_on -> Date,
        method -> Nullable<Text>,
        reference -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(invoice_lines -> invoices (invoice_id));
diesel::table! {
    returns (id) {
        id -> Text,
        number -> Text,
        order_id -> Text,
        company_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        currency -> Text,
        status -> Text,
        customer_comment -> Nullable<Text>,
        reject_reason -> Nullable<Text>,
        root_cause_category -> Nullable<Text>,
        root_cause_notes -> Nullable<Text>,
        preventive_action -> Nullable<Text>,
        resolution -> Nullable<Text>,
        restocking_fee_minor -> BigInt,
        concession_minor -> BigInt,
        refund_minor -> BigInt,
        saved_revenue_minor -> BigInt,
        credit_note_id -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        window_override_by -> Nullable<Text>,
        window_override_at -> Nullable<Timestamp>,
        opened_by -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    return_lines (id) {
        id -> Text,
        return_id -> Text,
        position -> BigInt,
        order_line_id -> Text,
        product_id -> Nullable<Text>,
        description -> Text,
        quantity_milli -> BigInt,
        reason_code -> Text,
        received_quantity_milli -> Nullable<BigInt>,
        disposition -> Nullable<Text>,
        unit_price_minor -> BigInt,
        discount_bp -> BigInt,
        tax_rate_bp -> BigInt,
        stated_gross_minor -> Nullable<BigInt>,
        stated_discount_minor -> Nullable<BigInt>,
        stated_tax_minor -> Nullable<BigInt>,
    }
}

diesel::joinable!(return_lines -> returns (return_id));
diesel::table! {
    self_billing_agreements (id) {
        id -> Text,
        company_id -> Text,
        series_id -> Text,
        credit_series_id -> Text,
        valid_from -> Date,
        valid_to -> Nullable<Date>,
        auto_accept_days -> Nullable<BigInt>,
        terms -> Nullable<Text>,
        status -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaign_rollups (campaign_id, ordered_on, month, currency) {
        campaign_id -> Text,
        ordered_on -> Date,
        month -> Text,
        currency -> Text,
        revenue_minor -> BigInt,
        cost_minor -> BigInt,
        returns_minor -> BigInt,
        concessions_minor -> BigInt,
        orders -> BigInt,
    }
}

diesel::table! {
    customer_rollups (company_id, month, currency) {
        company_id -> Text,
        month -> Text,
        currency -> Text,
        revenue_minor -> BigInt,
        cost_minor -> BigInt,
        returns_minor -> BigInt,
        concessions_minor -> BigInt,
        orders -> BigInt,
        units_milli -> BigInt,
    }
}

diesel::table! {
    customer_year_rollups (company_id, year) {
        company_id -> Text,
        year -> Integer,
        base_currency -> Text,
        revenue_minor -> BigInt,
        cost_minor -> BigInt,
        returns_minor -> BigInt,
        concessions_minor -> BigInt,
        orders -> BigInt,
        units_milli -> BigInt,
        gross_profit_minor -> BigInt,
        complete -> Bool,
    }
}

diesel::table! {
    product_rollups (product_id, salesperson_id, month, currency, shard) {
        product_id -> Text,
        salesperson_id -> Text,
        month -> Text,
        currency -> Text,
        revenue_minor -> BigInt,
        cost_minor -> BigInt,
        units_milli -> BigInt,
        returned_units_milli -> BigInt,
        returns_minor -> BigInt,
        shard -> SmallInt,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
        version -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    clv_fits (id) {
        id -> Text,
        fitted_at -> Timestamp,
        observed_until -> Date,
        customers -> BigInt,
        repeat_customers -> BigInt,
        bgnbd_r -> Double,
        bgnbd_alpha -> Double,
        bgnbd_a -> Double,
        bgnbd_b -> Double,
        gamma_gamma_p -> Double,
        gamma_gamma_q -> Double,
        gamma_gamma_gamma -> Double,
    }
}

diesel::joinable!(quote_lines -> quotes (quote_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::table! {
    integration_connections (id) {
        id -> Text,
        platform -> Text,
        name -> Text,
        channel -> Text,
        secret -> Text,
        shop_domain -> Nullable<Text>,
        site_url -> Nullable<Text>,
        prices_include_tax -> Bool,
        default_tax_rate_bp -> BigInt,
        accept_test_orders -> Bool,
        enabled -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    integration_ingestions (id) {
        id -> Text,
        connection_id -> Text,
        webhook_id -> Text,
        topic -> Text,
        status -> Text,
        order_id -> Nullable<Text>,
        unknown_skus -> Text,
        problem -> Nullable<Text>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    integration_refunds (connection_id, refund_id) {
        connection_id -> Text,
        refund_id -> Text,
        order_id -> Text,
        return_id -> Nullable<Text>,
        applied_at -> Timestamp,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));

diesel::table! {
    business_calendars (id) {
        id -> Text,
        name -> Text,
        time_zone -> Text,
        hours -> Text,
        holidays -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sla_policies (id) {
        id -> Text,
        name -> Text,
        calendar_id -> Text,
        position -> BigInt,
        categories -> Text,
        active -> Bool,
        rules -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    teams (id) {
        id -> Text,
        name -> Text,
        member_ids -> Text,
        escalation_user_id -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cases (id) {
        id -> Text,
        number -> Text,
        subject -> Text,
        description -> Nullable<Text>,
        company_id -> Text,
        contact_id -> Nullable<Text>,
        locale -> Text,
        tags -> Text,
        order_id -> Nullable<Text>,
        return_id -> Nullable<Text>,
        invoice_id -> Nullable<Text>,
        channel -> Text,
        priority -> Text,
        category -> Text,
        status -> Text,
        assignee_id -> Nullable<Text>,
        team_id -> Nullable<Text>,
        root_cause_category -> Nullable<Text>,
        root_cause_notes -> Nullable<Text>,
        preventive_action -> Nullable<Text>,
        escalation_level -> BigInt,
        escalated_to_id -> Nullable<Text>,
        escalated_at -> Nullable<Timestamp>,
        csat_flagged -> Bool,
        opened_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamp>,
        search_text -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    case_slas (case_id) {
        case_id -> Text,
        sla_policy_id -> Nullable<Text>,
        calendar_id -> Nullable<Text>,
        first_response_target_seconds -> Nullable<BigInt>,
        resolution_target_seconds -> Nullable<BigInt>,
        breach_priority -> Nullable<Text>,
        paused_seconds -> BigInt,
        paused_at -> Nullable<Timestamp>,
        first_response_due_at -> Nullable<Timestamp>,
        first_response_at_risk_at -> Nullable<Timestamp>,
        first_responded_at -> Nullable<Timestamp>,
        first_response_breached_at -> Nullable<Timestamp>,
        resolution_due_at -> Nullable<Timestamp>,
        resolution_at_risk_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        resolution_breached_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    case_surveys (case_id) {
        case_id -> Text,
        token_hash -> Text,
        expires_at -> Timestamp,
        rating -> Nullable<BigInt>,
        comment -> Nullable<Text>,
        answered_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(case_slas -> cases (case_id));
diesel::joinable!(case_surveys -> cases (case_id));
diesel::joinable!(case_events -> cases (case_id));
diesel::joinable!(case_comments -> cases (case_id));

diesel::table! {
    case_comments (id) {
        id -> Text,
        case_id -> Text,
        author_id -> Nullable<Text>,
        body -> Text,
        public -> Bool,
        from_customer -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    case_events (id) {
        id -> Text,
        case_id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        at -> Timestamp,
        actor_id -> Nullable<Text>,
        data -> Text,
    }
}

diesel::table! {
    kb_articles (id) {
        id -> Text,
        title -> Text,
        body -> Text,
        locale -> Text,
        tags -> Text,
        status -> Text,
        search_terms -> Text,
        revision -> BigInt,
        solved_cases_count -> BigInt,
        helpful_count -> BigInt,
        not_helpful_count -> BigInt,
        published_at -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    kb_revisions (article_id, revision) {
        article_id -> Text,
        revision -> BigInt,
        title -> Text,
        body -> Text,
        locale -> Text,
        tags -> Text,
        edited_by -> Nullable<Text>,
        edited_at -> Timestamp,
    }
}

diesel::table! {
    kb_feedback (article_id, user_id) {
        article_id -> Text,
        user_id -> Text,
        helpful -> Bool,
        at -> Timestamp,
    }
}

diesel::table! {
    case_articles (case_id, article_id) {
        case_id -> Text,
        article_id -> Text,
        relation -> Text,
        linked_by -> Nullable<Text>,
        linked_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    customer_facts,
    tasks,
    visit_plans,
    greeting_rules,
    follow_up_rules,
    segments,
    contact_consents,
    campaigns,
    campaign_costs,
    campaign_rollups,
    campaign_members,
    kb_articles,
    kb_revisions,
    kb_feedback,
    case_articles,
    business_calendars,
    sla_policies,
    teams,
    cases,
    case_slas,
    case_surveys,
    case_comments,
    case_events,
    users,
    integration_connections,
    integration_ingestions,
    integration_refunds,
    companies,
    contacts,
    interactions,
    refresh_tokens,
    api_keys,
    login_failures,
    idempotency_keys,
    counters,
    products,
    quotes,
    quote_lines,
    orders,
    order_lines,
    leads,
    pipelines,
    pipeline_stages,
    opportunities,
    opportunity_stage_changes,
    exchange_rates,
    company_settings,
    invoice_series,
    invoices,
    invoice_lines,
    payments,
    returns,
    return_lines,
    self_billing_agreements,
    customer_rollups,
    customer_year_rollups,
    product_rollups,
    settings,
    clv_fits,
    events,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
);

diesel::table! {
    field_definition_stamps (object) {
        object -> Text,
        stamp -> BigInt,
    }
}

diesel::table! {
    field_definitions (object, key) {
        object -> Text,
        key -> Text,
        label -> Text,
        field_type -> Text,
        scale -> Nullable<BigInt>,
        options -> Text,
        required -> Bool,
        is_unique -> Bool,
        default_value -> Nullable<Text>,
        indexed -> Bool,
        portal_visible -> Bool,
        archived_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    saved_views (id) {
        id -> Text,
        owner_id -> Text,
        name -> Text,
        object -> Text,
        filter -> Nullable<Text>,
        sort -> Nullable<Text>,
        column_paths -> Text,
        shared -> Bool,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    duplicate_dismissals (object, first_id, second_id) {
        object -> Text,
        first_id -> Text,
        second_id -> Text,
        dismissed_by -> Text,
        dismissed_at -> Timestamp,
    }
}

diesel::table! {
    merges (id) {
        id -> Text,
        object -> Text,
        survivor_id -> Text,
        merged_id -> Text,
        actor -> Text,
        merged_at -> Timestamp,
        old_values -> Text,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Text,
        name -> Text,
        code -> Text,
        code_key -> Text,
        channel -> Text,
        consent_channel -> Nullable<Text>,
        starts_on -> Date,
        ends_on -> Date,
        attribution_window_days -> Integer,
        budget_minor -> Nullable<BigInt>,
        budget_currency -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        status -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        target_segment_id -> Nullable<Text>,
    }
}

diesel::table! {
    campaign_costs (id) {
        id -> Text,
        campaign_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        incurred_on -> Date,
        description -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    campaign_members (id) {
        id -> Text,
        campaign_id -> Text,
        member_key -> Text,
        contact_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        status -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    contact_consents (id) {
        id -> Text,
        contact_id -> Text,
        channel -> Text,
        status -> Text,
        lawful_basis -> Text,
        source -> Text,
        at -> Timestamp,
        recorded_by -> Nullable<Text>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    segments (id) {
        id -> Text,
        name -> Text,
        subject -> Text,
        filter -> Text,
        owner_id -> Nullable<Text>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        channel -> Nullable<Text>,
        snapshot_of -> Nullable<Text>,
        snapshot_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    segment_snapshot_members (segment_id, position) {
        segment_id -> Text,
        position -> BigInt,
        member_id -> Text,
    }
}

diesel::table! {
    tasks (id) {
        id -> Text,
        title -> Text,
        notes -> Nullable<Text>,
        due_at -> Nullable<Timestamp>,
        reminder_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        assignee_id -> Nullable<Text>,
        company_id -> Nullable<Text>,
        contact_id -> Nullable<Text>,
        opportunity_id -> Nullable<Text>,
        quote_id -> Nullable<Text>,
        status -> Text,
        source -> Text,
        occurrence_key -> Nullable<Text>,
        completed_at -> Nullable<Timestamp>,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    visit_plans (id) {
        id -> Text,
        company_id -> Text,
        owner_id -> Text,
        every_weeks -> Integer,
        next_visit_on -> Date,
        lead_days -> Integer,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    greeting_rules (id) {
        id -> Text,
        name -> Text,
        occasion -> Text,
        locales -> Text,
        channel -> Nullable<Text>,
        days_before -> Integer,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    follow_up_rules (id) {
        id -> Text,
        name -> Text,
        trigger_event -> Text,
        after_days -> Integer,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    customer_facts (company_id) {
        company_id -> Text,
        order_count -> BigInt,
        profit_last_12_months_minor -> BigInt,
        profit_last_year_minor -> BigInt,
        clv_historical_minor -> BigInt,
        clv_predicted_12_months_minor -> Nullable<BigInt>,
        probability_alive_bp -> Nullable<BigInt>,
        value_at_risk_minor -> Nullable<BigInt>,
        as_of -> Date,
        recent_from -> Text,
        recent_to -> Text,
        last_year_from -> Text,
        last_year_to -> Text,
    }
}

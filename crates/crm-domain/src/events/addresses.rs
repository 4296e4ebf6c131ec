//! Where webhooks may be sent. A receiver's URL is checked when it is subscribed, and the address
//! actually dialled is checked again at connect time, so that a name that later resolves to an
//! internal address (DNS rebinding) is not called.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::Violation;

/// What the operator allows beyond public `https` receivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// `http://` receivers (`CRM_WEBHOOK_ALLOW_HTTP`).
    pub allow_http: bool,
    /// Loopback and private addresses (`CRM_WEBHOOK_ALLOW_PRIVATE`), for tests and intranets.
    pub allow_private: bool,
    /// Hosts and networks allowed although private (`CRM_WEBHOOK_ALLOW_HOSTS`).
    pub allow_hosts: Vec<AllowedHost>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    Name(String),
    Network(IpNet),
}

impl TargetPolicy {
    /// A comma-separated list of host names, addresses and CIDR networks.
    pub fn parse_hosts(text: &str) -> Result<Vec<AllowedHost>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                if let Ok(network) = part.parse::<IpNet>() {
                    Ok(AllowedHost::Network(network))
                } else if let Ok(address) = part.parse::<IpAddr>() {
                    Ok(AllowedHost::Network(IpNet::from(address)))
                } else if part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                {
                    Ok(AllowedHost::Name(part.to_ascii_lowercase()))
                } else {
                    Err(format!("`{part}` is neither a host name nor a network"))
                }
            })
            .collect()
    }

    fn allows_host(&self, host: &str, address: IpAddr) -> bool {
        self.allow_hosts.iter().any(|allowed| match allowed {
            AllowedHost::Name(name) => name.eq_ignore_ascii_case(host),
            AllowedHost::Network(network) => network.contains(&address),
        })
    }
}

/// A receiver's URL, checked: its scheme is allowed, and its host is a name or an allowed
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: url::Url,
    pub host: String,
}

pub fn check_url(text: &str, policy: &TargetPolicy) -> Result<Target, Violation> {
    let refuse = |message: &str| Violation::new("url", message);
    let url = url::Url::parse(text.trim()).map_err(|e| refuse(&format!("is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(refuse("must be https")),
        _ => return Err(refuse("must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "must not carry credentials; sign with the endpoint's secret",
        ));
    }
    if url.fragment().is_some() {
        return Err(refuse("must not have a fragment"));
    }
    let host = match url.host() {
        Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
        Some(url::Host::Ipv4(v4)) => {
            check_address(&v4.to_string(), IpAddr::V4(v4), policy)
                .map_err(|r| refuse(r.reason()))?;
            v4.to_string()
        }
        Some(url::Host::Ipv6(v6)) => {
            check_address(&v6.to_string(), IpAddr::V6(v6), policy)
                .map_err(|r| refuse(r.reason()))?;
            v6.to_string()
        }
        None => return Err(refuse("has no host")),
    };
    Ok(Target { url, host })
}

/// Why an address is not dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Link-local and cloud metadata addresses: never, whatever the flags say.
    Metadata,
    Unroutable,
    Private,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Metadata => "resolves to a link-local or metadata address, which is never called",
            Refusal::Unroutable => "resolves to an unspecified, multicast or broadcast address",
            Refusal::Private => "resolves to a loopback or private address; set CRM_WEBHOOK_ALLOW_PRIVATE or CRM_WEBHOOK_ALLOW_HOSTS to allow it",
        }
    }
}

/// Whether `address`, reached by the name `host`, may be dialled.
pub fn check_address(host: &str, address: IpAddr, policy: &TargetPolicy) -> Result<(), Refusal> {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    match class(address) {
        Class::Public => Ok(()),
        Class::Metadata => Err(Refusal::Metadata),
        Class::Unroutable => Err(Refusal::Unroutable),
        Class::Private if policy.allow_private || policy.allows_host(host, address) => Ok(()),
        Class::Private => Err(Refusal::Private),
    }
}

enum Class {
    Public,
    Private,
    Metadata,
    Unroutable,
}

fn class(address: IpAddr) -> Class {
    const METADATA_V6: [u16; 8] = [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254];
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_link_local() {
                Class::Metadata
            } else if v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast() || a == 0 {
                Class::Unroutable
            } else if v4.is_loopback() || v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                Class::Private
            } else {
                Class::Public
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.segments() == METADATA_V6 || (first & 0xffc0) == 0xfe80 {
                Class::Metadata
            } else if v6.is_unspecified() || v6.is_multicast() {
                Class::Unroutable
            } else if v6.is_loopback() || (first & 0xfe00) == 0xfc00 {
                Class::Private
            } else {
                Class::Public
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> TargetPolicy {
        TargetPolicy::default()
    }

    fn permissive() -> TargetPolicy {
        TargetPolicy {
            allow_http: true,
            allow_private: true,
            allow_hosts: vec![],
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_https_receivers_pass() {
        let target = check_url("https://hooks.example.com/crm", &strict()).unwrap();
        assert_eq!(target.host, "hooks.example.com");
        assert!(check_address("hooks.example.com", ip("93.184.216.34"), &strict()).is_ok());
        assert!(check_address("x", ip("2606:2800:220:1::1"), &strict()).is_ok());
    }

    #[test]
    fn http_needs_the_flag() {
        assert_eq!(
            check_url("http://hooks.example.com/", &strict())
                .unwrap_err()
                .message,
            "must be https"
        );
        assert!(check_url("http://hooks.example.com/", &permissive()).is_ok());
        assert!(check_url("ftp://hooks.example.com/", &permissive()).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/", &strict()).is_err());
    }

    #[test]
    fn loopback_and_private_need_the_flag() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(
                check_address("h", ip(address), &strict()),
                Err(Refusal::Private),
                "{address}"
            );
            assert_eq!(
                check_address("h", ip(address), &permissive()),
                Ok(()),
                "{address}"
            );
        }
        assert!(check_url("https://127.0.0.1:8443/hook", &strict()).is_err());
        assert!(check_url("https://[::1]/hook", &strict()).is_err());
    }

    #[test]
    fn metadata_and_link_local_are_never_called() {
        for address in ["169.254.169.254", "169.254.1.1", "fd00:ec2::254", "fe80::1"] {
            assert_eq!(
                check_address("h", ip(address), &permissive()),
                Err(Refusal::Metadata),
                "{address}"
            );
        }
        let everything = TargetPolicy {
            allow_hosts: TargetPolicy::parse_hosts("169.254.0.0/16").unwrap(),
            ..permissive()
        };
        assert!(check_url("http://169.254.169.254/latest", &everything).is_err());
    }

    #[test]
    fn unroutable_addresses_are_refused() {
        for address in ["0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1"] {
            assert_eq!(
                check_address("h", ip(address), &permissive()),
                Err(Refusal::Unroutable),
                "{address}"
            );
        }
    }

    #[test]
    fn allowed_hosts_open_private_addresses_by_name_or_network() {
        let policy = TargetPolicy {
            allow_hosts: TargetPolicy::parse_hosts("erp.internal, 10.9.0.0/16,192.168.7.7")
                .unwrap(),
            ..strict()
        };
        assert!(check_address("ERP.internal", ip("10.1.1.1"), &policy).is_ok());
        assert!(check_address("other", ip("10.9.3.4"), &policy).is_ok());
        assert!(check_address("other", ip("192.168.7.7"), &policy).is_ok());
        assert_eq!(
            check_address("other", ip("10.8.3.4"), &policy),
            Err(Refusal::Private)
        );
        assert!(TargetPolicy::parse_hosts("bad host!").is_err());
    }
}

//! ECS ARNs in both formats and every partition.
//!
//! New format: `arn:aws:ecs:eu-central-1:111111111111:task/<cluster>/<task-id>`;
//! old format (before 2018 opt-in): `arn:aws:ecs:us-east-1:111122223333:task/<task-id>`,
//! where the cluster is only in `clusterArn`. Partitions `aws`, `aws-cn`,
//! `aws-us-gov` are all accepted.

/// The parts of an ARN this product uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// `task`, `cluster`, `service`, `task-definition`, `container-instance`, ...
    pub resource_type: &'a str,
    /// Everything after the resource type and its separator.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses `arn:partition:service:region:account:type/resource` (or `type:resource`).
    pub fn parse(s: &'a str) -> Option<Self> {
        // Byte positions, not `splitn`: this runs several times per event,
        // and the generic string searchers cost ~1,000 instructions per ARN
        // (bench/RESULTS.md, issue 21). `:` and `/` are ASCII, so every cut
        // is on a character boundary.
        let rest = s.strip_prefix("arn:")?;
        let mut fields = [""; 4];
        let mut start = 0;
        for field in &mut fields {
            let end = start + rest.as_bytes()[start..].iter().position(|&b| b == b':')?;
            *field = &rest[start..end];
            start = end + 1;
        }
        let [partition, service, region, account] = fields;
        let rest = &rest[start..];
        let cut = rest.bytes().position(|b| b == b'/' || b == b':')?;
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource_type: &rest[..cut],
            resource: &rest[cut + 1..],
        })
    }

    /// Last `/`-separated segment of the resource: the id of a task or container instance.
    pub fn id(&self) -> &'a str {
        self.resource.rsplit('/').next().unwrap_or(self.resource)
    }

    /// The cluster named in a new-format task, service or container-instance ARN.
    pub fn cluster(&self) -> Option<&'a str> {
        match self.resource_type {
            "cluster" => Some(self.resource),
            _ => {
                let (cluster, _) = self.resource.split_once('/')?;
                Some(cluster)
            }
        }
    }
}

/// Cluster name from a cluster ARN, or from a new-format task/service ARN.
pub fn cluster_name<'a>(
    cluster_arn: Option<&'a str>,
    other_arn: Option<&'a str>,
) -> Option<&'a str> {
    cluster_arn
        .and_then(Arn::parse)
        .and_then(|a| a.cluster())
        .or_else(|| other_arn.and_then(Arn::parse).and_then(|a| a.cluster()))
}

/// Service name from a service ARN (`service/<cluster>/<name>` or old `service/<name>`).
pub fn service_name(service_arn: &str) -> Option<&str> {
    let arn = Arn::parse(service_arn)?;
    (arn.resource_type == "service").then(|| arn.id())
}

/// `family` and `revision` from a task-definition ARN (`task-definition/web:15`).
pub fn task_definition(arn: &str) -> Option<(&str, i32)> {
    let arn = Arn::parse(arn)?;
    if arn.resource_type != "task-definition" {
        return None;
    }
    let (family, rev) = arn.resource.rsplit_once(':')?;
    Some((family, rev.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_old_task_arns() {
        let new = Arn::parse(
            "arn:aws:ecs:eu-central-1:111111111111:task/test/a6eaf0150a4248dAA1bcbd688121014e",
        )
        .unwrap();
        assert_eq!(new.cluster(), Some("test"));
        assert_eq!(new.id(), "a6eaf0150a4248dAA1bcbd688121014e");
        let old = Arn::parse(
            "arn:aws:ecs:us-east-1:111122223333:task/b99d40b3-5176-4f71-9a52-9dbd6f1cebef",
        )
        .unwrap();
        assert_eq!(old.cluster(), None);
        assert_eq!(old.id(), "b99d40b3-5176-4f71-9a52-9dbd6f1cebef");
    }

    #[test]
    fn all_partitions() {
        for p in ["aws", "aws-cn", "aws-us-gov"] {
            let s = format!("arn:{p}:ecs:r-1:1:cluster/prod");
            let a = Arn::parse(&s).unwrap();
            assert_eq!(a.partition, p);
            assert_eq!(a.cluster(), Some("prod"));
        }
    }

    #[test]
    fn cluster_falls_back_to_task_arn() {
        assert_eq!(
            cluster_name(None, Some("arn:aws:ecs:r:1:task/c1/abc")),
            Some("c1")
        );
        assert_eq!(
            cluster_name(
                Some("arn:aws:ecs:r:1:cluster/c2"),
                Some("arn:aws:ecs:r:1:task/abc")
            ),
            Some("c2")
        );
        assert_eq!(cluster_name(None, Some("arn:aws:ecs:r:1:task/abc")), None);
    }

    /// The straightforward `splitn` reading `Arn::parse` replaced.
    fn parse_by_splitn(s: &str) -> Option<Arn<'_>> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let (partition, service, region, account) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let rest = parts.next()?;
        let cut = rest.find(['/', ':'])?;
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource_type: &rest[..cut],
            resource: &rest[cut + 1..],
        })
    }

    proptest::proptest! {
        #[test]
        fn parse_reads_what_splitn_reads(s in "(arn)?(:[a-zé0-9/:-]{0,6}){0,7}") {
            proptest::prop_assert_eq!(Arn::parse(&s), parse_by_splitn(&s));
        }
    }

    #[test]
    fn malformed_arns_are_refused() {
        for s in [
            "",
            "arn",
            "arn:aws:ecs:r",
            "arn:aws:ecs:r:1",
            "arn:aws:ecs:r:1:task",
            "urn:aws:ecs:r:1:task/x",
        ] {
            assert_eq!(Arn::parse(s), None, "{s}");
            assert_eq!(parse_by_splitn(s), None, "{s}");
        }
        let empty = Arn::parse("arn:::::/").unwrap();
        assert_eq!(
            (empty.partition, empty.resource_type, empty.resource),
            ("", "", "")
        );
    }

    #[test]
    fn services_and_task_definitions() {
        assert_eq!(
            service_name("arn:aws:ecs:us-west-2:111122223333:service/default/servicetest"),
            Some("servicetest")
        );
        assert_eq!(
            service_name("arn:aws:ecs:us-west-2:111122223333:service/servicetest"),
            Some("servicetest")
        );
        assert_eq!(
            task_definition("arn:aws:ecs:r:1:task-definition/webapp:15"),
            Some(("webapp", 15))
        );
        assert_eq!(
            task_definition("arn:aws:ecs:r:1:task-definition/webapp"),
            None
        );
        assert_eq!(Arn::parse("not-an-arn"), None);
    }
}

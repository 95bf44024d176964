//! Kubernetes NetworkPolicy analysis (networking.k8s.io/v1): the connectivity map of
//! workloads under their policies, in the format of np-guard's netpol-analyzer (the engine
//! of `roxctl netpol connectivity map`).
//!
//! ```
//! use serde_json::json;
//! let deny = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
//!     "metadata": {"name": "deny", "namespace": "shop"}, "spec": {"podSelector": {}}});
//! let web = json!({"apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web", "namespace": "shop"},
//!     "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}});
//! let objects = [palisade_netpol::SourcedObject { file: "a.yaml", object: &deny },
//!                palisade_netpol::SourcedObject { file: "a.yaml", object: &web }];
//! let (topology, diagnostics) = palisade_netpol::build(&objects, "default", false);
//! assert!(diagnostics.is_empty());
//! let (map, _) = palisade_netpol::Analyzer::new(&topology).map();
//! assert_eq!(palisade_netpol::render(&map, palisade_netpol::MapFormat::Txt),
//!            "shop/web[Deployment] => 0.0.0.0-255.255.255.255[External] : All Connections\n");
//! ```

mod diagnostics;
mod flows;
mod generate;
mod ip;
mod map;
mod model;
mod ports;
mod render;
mod selector;
mod unused;

pub use diagnostics::{Diagnostic, Level, ObjectRef};
pub use flows::{Flow, FlowEnd, Observed, read_flows, resolve};
pub use generate::{
    Change, GenerateOptions, Generated, MANAGED_BY, MAX_EXTERNAL_PEERS, PolicyDoc, Verification,
    generate, verify,
};
pub use ip::{IpRange, IpSet, parse_cidr};
pub use map::{
    Analyzer, ConnectivityMap, Direction, Endpoint, INGRESS_CONTROLLER_NAMESPACE, Link,
    MAX_MAP_QUESTIONS,
};
pub use model::{
    ContainerPort, Exposure, NAMESPACE_NAME_LABEL, PeerSpec, PodShape, Policy, PortRef, PortSpec,
    Rule, Service, ServicePort, SourcedObject, Topology, Workload, build, sourced,
};
pub use ports::{Connections, PortSet, Protocol};
pub use render::{MapFormat, render};
pub use selector::{Labels, Operator, Requirement, Selector};
pub use unused::{NamespaceTotals, PathUse, UnusedReport, render_unused, unused};

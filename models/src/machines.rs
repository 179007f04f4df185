//! The Compute Engine machine-type table: what a node or VM of a given type holds (vCPUs, memory,
//! built-in GPUs). This module owns the shape of machines; what they cost is in
//! the `billing` crate. Node pools, standalone VMs and the Ray cluster all name their machines by
//! these GCP names (`n1-standard-4`), and [`MachineType::lookup`] refuses a name it does not know
//! rather than guessing.
//!
//! Memory is in GiB: Google's "GB" for machine memory is binary (n1-standard-4 = 15 GiB).

use std::fmt;

/// A machine series, which decides the discount rules that apply (sustained use applies to N1,
/// not to E2; see `billing::price_table::SustainedUse`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MachineFamily {
    N1,
    N2,
    E2,
    A2,
    G2,
}

impl MachineFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineFamily::N1 => "n1",
            MachineFamily::N2 => "n2",
            MachineFamily::E2 => "e2",
            MachineFamily::A2 => "a2",
            MachineFamily::G2 => "g2",
        }
    }

    /// Whether GPUs can be attached to machines of this series (N1 takes T4, P4, P100, V100).
    pub fn accepts_attached_gpus(self) -> bool {
        matches!(self, MachineFamily::N1)
    }
}

/// One machine type, e.g. `n1-highmem-8` = 8 vCPU, 52 GiB.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MachineType {
    pub name: &'static str,
    pub family: MachineFamily,
    /// vCPUs the guest sees (shared-core e2-micro/small/medium report 2).
    pub vcpus: u32,
    /// The fraction of those vCPUs the machine may use sustained: 1.0 except shared-core types
    /// (e2-micro 0.25, e2-small 0.5, e2-medium 1.0).
    pub cpu_share: f64,
    pub memory_gib: f64,
    /// GPUs built into the machine type (A2, G2); attached accelerators of an N1 node pool are
    /// configured on the pool, not here.
    pub gpus: u32,
    pub gpu_type: Option<&'static str>,
}

impl MachineType {
    /// The machine type called `name`, or an error that says which types exist.
    pub fn lookup(name: &str) -> Result<&'static MachineType, UnknownMachineType> {
        MACHINE_TYPES
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| UnknownMachineType {
                name: name.to_string(),
            })
    }

    /// Every machine type the table holds, in table order.
    pub fn all() -> &'static [MachineType] {
        MACHINE_TYPES
    }

    /// vCPUs usable sustained (vcpus x cpu_share), the capacity bin-packing should use.
    pub fn effective_vcpus(&self) -> f64 {
        f64::from(self.vcpus) * self.cpu_share
    }
}

/// A machine type name that is not in [`MachineType::all`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownMachineType {
    pub name: String,
}

impl fmt::Display for UnknownMachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.name.split('-').take(2).collect::<Vec<_>>().join("-");
        let similar: Vec<&str> = MACHINE_TYPES
            .iter()
            .map(|m| m.name)
            .filter(|n| !prefix.is_empty() && n.starts_with(&prefix))
            .collect();
        write!(f, "unknown machine type `{}`", self.name)?;
        if similar.is_empty() {
            write!(
                f,
                "; the machine table knows the n1, n2, e2, a2 and g2 series (e.g. n1-standard-4, \
                 n1-highmem-8, e2-standard-4, n2-standard-8)"
            )
        } else {
            write!(f, "; known types like it: {}", similar.join(", "))
        }
    }
}

impl std::error::Error for UnknownMachineType {}

const fn m(name: &'static str, family: MachineFamily, vcpus: u32, memory_gib: f64) -> MachineType {
    MachineType {
        name,
        family,
        vcpus,
        cpu_share: 1.0,
        memory_gib,
        gpus: 0,
        gpu_type: None,
    }
}

const fn shared(name: &'static str, cpu_share: f64, memory_gib: f64) -> MachineType {
    MachineType {
        name,
        family: MachineFamily::E2,
        vcpus: 2,
        cpu_share,
        memory_gib,
        gpus: 0,
        gpu_type: None,
    }
}

const fn gpu(
    name: &'static str,
    family: MachineFamily,
    vcpus: u32,
    memory_gib: f64,
    gpus: u32,
    gpu_type: &'static str,
) -> MachineType {
    MachineType {
        name,
        family,
        vcpus,
        cpu_share: 1.0,
        memory_gib,
        gpus,
        gpu_type: Some(gpu_type),
    }
}

use MachineFamily::{A2, E2, G2, N1, N2};

/// Shapes from cloud.google.com/compute/docs/general-purpose-machines and
/// .../accelerator-optimized-machines. N1: standard 3.75 GiB per vCPU, highmem 6.5, highcpu 0.9;
/// E2 and N2: standard 4, highmem 8, highcpu 1 (n2-highmem-96/128 are the exceptions at 768/864).
static MACHINE_TYPES: &[MachineType] = &[
    // N1 (the seeds' node pools, VMs and Ray cluster)
    m("n1-standard-1", N1, 1, 3.75),
    m("n1-standard-2", N1, 2, 7.5),
    m("n1-standard-4", N1, 4, 15.0),
    m("n1-standard-8", N1, 8, 30.0),
    m("n1-standard-16", N1, 16, 60.0),
    m("n1-standard-32", N1, 32, 120.0),
    m("n1-standard-64", N1, 64, 240.0),
    m("n1-standard-96", N1, 96, 360.0),
    m("n1-highmem-2", N1, 2, 13.0),
    m("n1-highmem-4", N1, 4, 26.0),
    m("n1-highmem-8", N1, 8, 52.0),
    m("n1-highmem-16", N1, 16, 104.0),
    m("n1-highmem-32", N1, 32, 208.0),
    m("n1-highmem-64", N1, 64, 416.0),
    m("n1-highmem-96", N1, 96, 624.0),
    m("n1-highcpu-2", N1, 2, 1.8),
    m("n1-highcpu-4", N1, 4, 3.6),
    m("n1-highcpu-8", N1, 8, 7.2),
    m("n1-highcpu-16", N1, 16, 14.4),
    m("n1-highcpu-32", N1, 32, 28.8),
    m("n1-highcpu-64", N1, 64, 57.6),
    m("n1-highcpu-96", N1, 96, 86.4),
    // E2
    shared("e2-micro", 0.25, 1.0),
    shared("e2-small", 0.5, 2.0),
    shared("e2-medium", 1.0, 4.0),
    m("e2-standard-2", E2, 2, 8.0),
    m("e2-standard-4", E2, 4, 16.0),
    m("e2-standard-8", E2, 8, 32.0),
    m("e2-standard-16", E2, 16, 64.0),
    m("e2-standard-32", E2, 32, 128.0),
    m("e2-highmem-2", E2, 2, 16.0),
    m("e2-highmem-4", E2, 4, 32.0),
    m("e2-highmem-8", E2, 8, 64.0),
    m("e2-highmem-16", E2, 16, 128.0),
    m("e2-highcpu-2", E2, 2, 2.0),
    m("e2-highcpu-4", E2, 4, 4.0),
    m("e2-highcpu-8", E2, 8, 8.0),
    m("e2-highcpu-16", E2, 16, 16.0),
    m("e2-highcpu-32", E2, 32, 32.0),
    // N2
    m("n2-standard-2", N2, 2, 8.0),
    m("n2-standard-4", N2, 4, 16.0),
    m("n2-standard-8", N2, 8, 32.0),
    m("n2-standard-16", N2, 16, 64.0),
    m("n2-standard-32", N2, 32, 128.0),
    m("n2-standard-48", N2, 48, 192.0),
    m("n2-standard-64", N2, 64, 256.0),
    m("n2-standard-80", N2, 80, 320.0),
    m("n2-standard-96", N2, 96, 384.0),
    m("n2-standard-128", N2, 128, 512.0),
    m("n2-highmem-2", N2, 2, 16.0),
    m("n2-highmem-4", N2, 4, 32.0),
    m("n2-highmem-8", N2, 8, 64.0),
    m("n2-highmem-16", N2, 16, 128.0),
    m("n2-highmem-32", N2, 32, 256.0),
    m("n2-highmem-48", N2, 48, 384.0),
    m("n2-highmem-64", N2, 64, 512.0),
    m("n2-highmem-80", N2, 80, 640.0),
    m("n2-highmem-96", N2, 96, 768.0),
    m("n2-highmem-128", N2, 128, 864.0),
    m("n2-highcpu-2", N2, 2, 2.0),
    m("n2-highcpu-4", N2, 4, 4.0),
    m("n2-highcpu-8", N2, 8, 8.0),
    m("n2-highcpu-16", N2, 16, 16.0),
    m("n2-highcpu-32", N2, 32, 32.0),
    m("n2-highcpu-48", N2, 48, 48.0),
    m("n2-highcpu-64", N2, 64, 64.0),
    m("n2-highcpu-80", N2, 80, 80.0),
    m("n2-highcpu-96", N2, 96, 96.0),
    // GPU machine types (GPUs built in)
    gpu("a2-highgpu-1g", A2, 12, 85.0, 1, "nvidia-tesla-a100"),
    gpu("a2-highgpu-2g", A2, 24, 170.0, 2, "nvidia-tesla-a100"),
    gpu("a2-highgpu-4g", A2, 48, 340.0, 4, "nvidia-tesla-a100"),
    gpu("a2-highgpu-8g", A2, 96, 680.0, 8, "nvidia-tesla-a100"),
    gpu("g2-standard-4", G2, 4, 16.0, 1, "nvidia-l4"),
    gpu("g2-standard-8", G2, 8, 32.0, 1, "nvidia-l4"),
    gpu("g2-standard-12", G2, 12, 48.0, 1, "nvidia-l4"),
    gpu("g2-standard-16", G2, 16, 64.0, 1, "nvidia-l4"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn seed_machine_types_have_the_documented_shapes() {
        let cases = [
            ("n1-standard-4", 4, 15.0),
            ("n1-standard-8", 8, 30.0),
            ("n1-standard-16", 16, 60.0),
            ("n1-highmem-8", 8, 52.0),
        ];
        for (name, vcpus, mem) in cases {
            let m = MachineType::lookup(name).expect(name);
            assert_eq!(m.vcpus, vcpus, "{name}");
            assert_eq!(m.memory_gib, mem, "{name}");
            assert_eq!(m.family, MachineFamily::N1);
            assert_eq!(m.gpus, 0);
        }
    }

    #[test]
    fn family_ratios_hold_for_every_regular_type() {
        for m in MachineType::all() {
            if m.gpus > 0 || m.cpu_share < 1.0 || m.name == "e2-medium" {
                continue;
            }
            let per_vcpu = m.memory_gib / f64::from(m.vcpus);
            let expected = match (m.family, m.name.split('-').nth(1)) {
                (MachineFamily::N1, Some("standard")) => 3.75,
                (MachineFamily::N1, Some("highmem")) => 6.5,
                (MachineFamily::N1, Some("highcpu")) => 0.9,
                (_, Some("standard")) => 4.0,
                (_, Some("highmem")) if m.vcpus <= 80 => 8.0,
                (_, Some("highmem")) => continue,
                (_, Some("highcpu")) => 1.0,
                _ => panic!("unexpected name {}", m.name),
            };
            assert!((per_vcpu - expected).abs() < 1e-9, "{}", m.name);
            assert!(m.name.starts_with(m.family.as_str()), "{}", m.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let names: HashSet<_> = MachineType::all().iter().map(|m| m.name).collect();
        assert_eq!(names.len(), MachineType::all().len());
    }

    #[test]
    fn gpu_types_and_shared_cores() {
        let a2 = MachineType::lookup("a2-highgpu-1g").expect("a2");
        assert_eq!((a2.gpus, a2.gpu_type), (1, Some("nvidia-tesla-a100")));
        let micro = MachineType::lookup("e2-micro").expect("micro");
        assert_eq!(micro.effective_vcpus(), 0.5);
        assert!(MachineFamily::N1.accepts_attached_gpus());
        assert!(!MachineFamily::E2.accepts_attached_gpus());
    }

    #[test]
    fn unknown_type_errors_clearly() {
        let err = MachineType::lookup("n1-standard-3").expect_err("no such type");
        let text = err.to_string();
        assert!(
            text.contains("unknown machine type `n1-standard-3`"),
            "{text}"
        );
        assert!(text.contains("n1-standard-4"), "{text}");
        let err = MachineType::lookup("m9-mega").expect_err("no such type");
        assert!(err.to_string().contains("n1, n2, e2"), "{err}");
    }
}

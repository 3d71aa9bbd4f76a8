//! Loading and reading the recorder's eBPF program (src/record/bpf/recorder.bpf.c, compiled
//! by build.rs) with aya's loader: pure Rust (no libbpf/libelf/zlib to link, so the static
//! release build is unchanged), CO-RE relocations against /sys/kernel/btf/vmlinux. Only
//! `rampart __record` and `rampart doctor` come here; nothing is initialised otherwise.

use anyhow::Result;

/// One `counts` key: syscall number, arch (0 x86_64, 1 x86, 2 x32), code (0 call, 1 ok,
/// 2 + errno).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountKey {
    pub nr: u32,
    pub arch: u16,
    pub code: u16,
}

/// The kernel side's `struct config`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    pub root_tgid: u32,
    pub host_mntns: u32,
    pub started: u32,
    pub target_mntns: u32,
    pub init_tgid: u32,
    pub ended: u32,
    pub start_ns: u64,
    pub end_ns: u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct CapCount {
    pub granted: u64,
    pub denied: u64,
}

/// Counters of what was lost (see recorder.bpf.c's ST_*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub lost_events: u64,
    pub counts_full: u64,
    pub procs_full: u64,
    pub pending_full: u64,
}

impl Stats {
    pub fn lost(&self) -> u64 {
        self.lost_events + self.counts_full + self.procs_full
    }
}

/// What `doctor` and a failing recorder say about this host.
#[derive(Debug, Clone)]
pub struct Probe {
    pub built_with_bpf: bool,
    pub btf: bool,
    pub tp_btf: Result<(), String>,
    pub kprobe: Result<(), String>,
}

pub const BUILT_WITHOUT_BPF: &str = "this rampart was built without BPF (clang or libbpf-dev was missing at build time: run scripts/setup-host and rebuild)";

#[cfg(rampart_bpf)]
mod imp {
    use super::*;
    use anyhow::Context;
    use aya::maps::{Array, HashMap, MapData, RingBuf};
    use aya::programs::{BtfTracePoint, KProbe};
    use aya::{Btf, Ebpf, EbpfLoader};

    // SAFETY: plain repr(C) integers, no padding the kernel does not write.
    unsafe impl aya::Pod for CountKey {}
    unsafe impl aya::Pod for Config {}
    unsafe impl aya::Pod for CapCount {}

    static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/recorder.bpf.o"));

    const TRACEPOINTS: &[(&str, &str)] = &[
        ("on_fork", "sched_process_fork"),
        ("on_exec", "sched_process_exec"),
        ("on_exit_task", "sched_process_exit"),
        ("on_sys_enter", "sys_enter"),
        ("on_sys_exit", "sys_exit"),
    ];

    pub struct Loaded {
        ebpf: Ebpf,
        pub ring: RingBuf<aya::maps::MapData>,
        pub kprobe: Result<(), String>,
    }

    fn load_object() -> Result<(Ebpf, Btf)> {
        let btf = Btf::from_sys_fs()
            .context("the kernel has no BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)")?;
        let ebpf = EbpfLoader::new().btf(Some(&btf)).load(OBJECT).context(
            "cannot load the recorder's eBPF object (needs root or CAP_BPF+CAP_PERFMON)",
        )?;
        Ok((ebpf, btf))
    }

    fn attach_tp(ebpf: &mut Ebpf, btf: &Btf, prog: &str, tp: &str) -> Result<()> {
        let p: &mut BtfTracePoint = ebpf
            .program_mut(prog)
            .with_context(|| format!("program {prog} missing"))?
            .try_into()?;
        p.load(tp, btf)
            .with_context(|| format!("cannot load tp_btf/{tp}"))?;
        p.attach()
            .with_context(|| format!("cannot attach tp_btf/{tp}"))?;
        Ok(())
    }

    fn attach_kprobes(ebpf: &mut Ebpf) -> Result<()> {
        if !std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists() {
            anyhow::bail!("the kernel has no kprobe PMU (/sys/bus/event_source/devices/kprobe)");
        }
        for prog in ["on_cap_capable", "on_cap_capable_ret"] {
            let p: &mut KProbe = ebpf
                .program_mut(prog)
                .with_context(|| format!("program {prog} missing"))?
                .try_into()?;
            p.load().with_context(|| format!("cannot load {prog}"))?;
            p.attach("cap_capable", 0)
                .with_context(|| format!("cannot attach {prog} to cap_capable"))?;
        }
        Ok(())
    }

    /// Loads and attaches everything, seeded with the runc process (`root_tgid`) and its
    /// mount namespace: recording starts at the first exec of a process of its tree in
    /// another mount namespace.
    pub fn attach(root_tgid: u32, host_mntns: u32, want_kprobe: bool) -> Result<Loaded> {
        let (mut ebpf, btf) = load_object()?;
        {
            let mut cfg: Array<&mut MapData, Config> =
                Array::try_from(ebpf.map_mut("config").context("map config")?)?;
            cfg.set(
                0,
                Config {
                    root_tgid,
                    host_mntns,
                    ..Default::default()
                },
                0,
            )?;
            let mut tracked: HashMap<&mut MapData, u32, u8> =
                HashMap::try_from(ebpf.map_mut("tracked").context("map tracked")?)?;
            tracked.insert(root_tgid, 1, 0)?;
        }
        for (prog, tp) in TRACEPOINTS {
            attach_tp(&mut ebpf, &btf, prog, tp)?;
        }
        let kprobe = if want_kprobe {
            attach_kprobes(&mut ebpf).map_err(|e| format!("{e:#}"))
        } else {
            Err("not asked".into())
        };
        let ring = RingBuf::try_from(ebpf.take_map("events").context("map events")?)?;
        Ok(Loaded { ebpf, ring, kprobe })
    }

    impl Loaded {
        pub fn config(&self) -> Result<Config> {
            let cfg: Array<&MapData, Config> =
                Array::try_from(self.ebpf.map("config").context("map config")?)?;
            Ok(cfg.get(&0, 0)?)
        }

        /// Every entry of the hash map `name`.
        fn entries<K: aya::Pod, V: aya::Pod>(&self, name: &str) -> Result<Vec<(K, V)>> {
            let m: HashMap<&MapData, K, V> =
                HashMap::try_from(self.ebpf.map(name).with_context(|| format!("map {name}"))?)?;
            Ok(m.iter().collect::<Result<_, _>>()?)
        }

        pub fn counts(&self) -> Result<Vec<(CountKey, u64)>> {
            self.entries("counts")
        }

        pub fn caps(&self) -> Result<Vec<(u32, CapCount)>> {
            self.entries("caps")
        }

        pub fn stats(&self) -> Result<Stats> {
            let m: Array<&MapData, u64> =
                Array::try_from(self.ebpf.map("stats").context("map stats")?)?;
            let g = |i| m.get(&i, 0).unwrap_or(0);
            Ok(Stats {
                lost_events: g(0),
                counts_full: g(1),
                procs_full: g(2),
                pending_full: g(3),
            })
        }
    }

    pub fn probe() -> Probe {
        let mut p = Probe {
            built_with_bpf: true,
            btf: std::path::Path::new("/sys/kernel/btf/vmlinux").exists(),
            tp_btf: Ok(()),
            kprobe: Ok(()),
        };
        p.tp_btf = (|| -> Result<()> {
            let (mut ebpf, btf) = load_object()?;
            attach_tp(&mut ebpf, &btf, "on_sys_enter", "sys_enter")?;
            attach_tp(&mut ebpf, &btf, "on_sys_exit", "sys_exit")?;
            Ok(())
        })()
        .map_err(|e| format!("{e:#}"));
        p.kprobe = (|| -> Result<()> {
            let (mut ebpf, _) = load_object()?;
            attach_kprobes(&mut ebpf)
        })()
        .map_err(|e| format!("{e:#}"));
        p
    }
}

#[cfg(not(rampart_bpf))]
mod imp {
    use super::*;
    use anyhow::bail;

    pub struct Loaded {
        pub kprobe: Result<(), String>,
    }

    pub fn attach(_: u32, _: u32, _: bool) -> Result<Loaded> {
        bail!("{BUILT_WITHOUT_BPF}")
    }

    impl Loaded {
        pub fn config(&self) -> Result<Config> {
            bail!("{BUILT_WITHOUT_BPF}")
        }
        pub fn counts(&self) -> Result<Vec<(CountKey, u64)>> {
            bail!("{BUILT_WITHOUT_BPF}")
        }
        pub fn caps(&self) -> Result<Vec<(u32, CapCount)>> {
            bail!("{BUILT_WITHOUT_BPF}")
        }
        pub fn stats(&self) -> Result<Stats> {
            bail!("{BUILT_WITHOUT_BPF}")
        }
    }

    pub fn probe() -> Probe {
        Probe {
            built_with_bpf: false,
            btf: std::path::Path::new("/sys/kernel/btf/vmlinux").exists(),
            tp_btf: Err(BUILT_WITHOUT_BPF.into()),
            kprobe: Err(BUILT_WITHOUT_BPF.into()),
        }
    }
}

pub use imp::{Loaded, attach, probe};

/// Whether this binary carries the eBPF program.
pub const BUILT_WITH_BPF: bool = cfg!(rampart_bpf);

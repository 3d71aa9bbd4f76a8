//! `rampart pagecache [--check] [PATH]`: loads Rampart's binary into the page cache as
//! 2 MiB pages, or (`--check`) reports how the page cache holds it now.
//!
//! Why: Rampart runs once per runc call, and much of its own time is the kernel mapping its
//! code and constants and unmapping them again when it execs runc. The shipped build's
//! segments start on 2 MiB boundaries (scripts/build-release), so a 2 MiB block held in the
//! page cache as one 2 MiB page (a large folio: ext4 and XFS on recent kernels) is mapped
//! with one entry. How the page cache holds a file depends on how it got there: what the
//! kernel reads for an exec's page faults (after a reboot, after memory pressure) comes in
//! 4 KiB pages and stays so; what is read through a mapping that asked for huge pages comes
//! in 2 MiB pages. This command drops the file's cached pages and reads them back that way.
//! The package runs it at install and at every boot (rampart-pagecache.service, before the
//! container engines).
//!
//! It must not run from the file it reloads: the pages its own process maps cannot be
//! dropped. Run from that file (the usual case), it copies itself into a memfd and re-execs
//! from there. Pages other processes map at that moment (a call in flight) stay as they
//! are; the report says how much was loaded as 2 MiB pages. Nothing else changes: the file
//! is only read.

use crate::argv::Invocation;
use crate::host::Host;
use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const HUGE: usize = 2 << 20;
const PAGE: usize = 4096;

#[derive(Debug, Parser)]
#[command(
    name = "rampart pagecache",
    about = "Load Rampart's binary into the page cache as 2 MiB pages (faster container starts)",
    long_about = "Load Rampart's binary into the page cache as 2 MiB pages, so each call maps its code \
                  with a few entries instead of hundreds (faster container starts). After a reboot \
                  the kernel holds the binary in 4 KiB pages; the package runs this at install and \
                  at boot (rampart-pagecache.service). Only reads the file."
)]
struct Args {
    /// Only report how the page cache holds the binary now (changes nothing).
    #[arg(long)]
    check: bool,
    /// The binary [default: this one].
    path: Option<PathBuf>,
}

pub fn command() -> clap::Command {
    Args::command()
}

pub fn main(_inv: &Invocation, args: &[OsString], host: &dyn Host) -> i32 {
    super::text_command(
        args,
        |a| run(a, host),
        |e| format!("rampart pagecache: {e:#}"),
    )
}

fn run(a: Args, host: &dyn Host) -> Result<String> {
    let path = match a.path {
        Some(p) => p,
        None => host.self_exe().context("cannot find this binary")?,
    };
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    if !a.check {
        let m = file.metadata()?;
        if host.self_id() == Some((m.dev(), m.ino())) {
            return Err(reexec_from_memfd(file, &path));
        }
        reload(&file).with_context(|| format!("cannot reload {}", path.display()))?;
    }
    let held = held_in_huge_pages(&file)?;
    Ok(report(&path, held))
}

/// The one-line answer: how much of the file the page cache holds, and in which pages.
fn report(path: &Path, h: Held) -> String {
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    format!(
        "{}: {:.1} MiB, {:.1} MiB of it cached, {:.1} MiB as 2 MiB pages\n",
        path.display(),
        mib(h.size),
        mib(h.cached),
        mib(h.huge)
    )
}

/// How the page cache holds a file, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    pub size: u64,
    pub cached: u64,
    /// Held as 2 MiB pages.
    pub huge: u64,
    /// Cached in 4 KiB pages inside whole 2 MiB blocks of the file (blocks a 2 MiB page
    /// could hold): what `rampart pagecache` would improve. The file's last, partial block
    /// can only be small pages and is not counted.
    pub small: u64,
}

/// How the page cache holds the file at `path` now; reads nothing that is not cached.
pub fn held(path: &Path) -> Result<Held> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    held_in_huge_pages(&file)
}

/// Whether this binary's read-only segments start on 2 MiB boundaries in the file and in
/// memory (scripts/build-release's link), i.e. whether 2 MiB pages in the page cache can be
/// mapped as such when it runs.
pub fn segments_aligned() -> bool {
    // 32-bit builds have 32-bit program headers (and are not what the package ships).
    if cfg!(not(target_pointer_width = "64")) {
        return false;
    }
    // SAFETY: getauxval only reads the auxiliary vector.
    let (phdr, phnum) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR),
            libc::getauxval(libc::AT_PHNUM),
        )
    };
    if phdr == 0 {
        return false;
    }
    // SAFETY: AT_PHDR and AT_PHNUM describe this executable's program headers (64-bit ones,
    // checked above), mapped for its whole life.
    let headers =
        unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum as usize) };
    let huge = HUGE as u64;
    headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W == 0)
        .all(|h| h.p_align >= huge && h.p_offset % huge == 0 && h.p_vaddr % huge == 0)
}

/// Copies this binary (`me`, open at its start) into a memfd and execs it with the same
/// request and the path made explicit. Returns only on failure.
fn reexec_from_memfd(mut me: File, path: &Path) -> anyhow::Error {
    let mut go = || -> Result<std::convert::Infallible> {
        let fd = nix::sys::memfd::memfd_create(
            c"rampart-pagecache",
            nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
        )
        .context("memfd_create")?;
        let mut mem = File::from(fd);
        std::io::copy(&mut me, &mut mem).context("cannot copy this binary into a memfd")?;
        let argv = [
            c"rampart".to_owned(),
            c"pagecache".to_owned(),
            std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?,
        ];
        let env: Vec<std::ffi::CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.into_encoded_bytes();
                kv.push(b'=');
                kv.extend(v.into_encoded_bytes());
                std::ffi::CString::new(kv).ok()
            })
            .collect();
        nix::unistd::fexecve(&mem, &argv, &env).context("cannot exec the memfd copy")
    };
    match go() {
        Ok(never) => match never {},
        Err(e) => e.context("cannot run from a copy of this binary"),
    }
}

/// A read-only private mapping of a whole file at a 2 MiB-aligned address (file offset 0 on
/// a 2 MiB boundary, as the kernel needs to map a 2 MiB page with one entry).
struct Mapping {
    base: *mut libc::c_void,
    reserved: usize,
    addr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(file: &File, len: usize) -> Result<Mapping> {
        let reserved = len.next_multiple_of(HUGE) + HUGE;
        // SAFETY: a fresh anonymous reservation with no access; nothing else uses it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserved,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        let addr = (base as usize).next_multiple_of(HUGE) as *mut libc::c_void;
        // SAFETY: replaces part of our own reservation (MAP_FIXED inside it) with a
        // read-only view of the file.
        let mapped = unsafe {
            libc::mmap(
                addr,
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.as_raw_fd(),
                0,
            )
        };
        let m = Mapping {
            base,
            reserved,
            addr: addr.cast(),
            len,
        };
        if mapped == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        Ok(m)
    }

    /// Which pages of the file the page cache holds (mincore), without reading any.
    fn cached(&self) -> Result<Vec<bool>> {
        let mut v = vec![0u8; self.len.div_ceil(PAGE)];
        // SAFETY: the range is our mapping; `v` has one byte per page of it.
        if unsafe { libc::mincore(self.addr.cast(), self.len, v.as_mut_ptr()) } != 0 {
            bail!("mincore: {}", std::io::Error::last_os_error());
        }
        Ok(v.iter().map(|b| b & 1 == 1).collect())
    }

    /// Reads one byte of page `i`, faulting it in.
    fn touch(&self, i: usize) {
        // SAFETY: page i lies within the mapping (callers pass i < len / PAGE rounded up),
        // which is readable.
        unsafe { std::ptr::read_volatile(self.addr.add(i * PAGE)) };
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps our own reservation, the file mapping inside it included.
        unsafe { libc::munmap(self.base, self.reserved) };
    }
}

/// Drops the file's cached pages (those no process maps), then reads every page back
/// through a mapping that asked for huge pages: each first fault in a 2 MiB block reads the
/// block as one 2 MiB page when the file system and memory allow.
fn reload(file: &File) -> Result<()> {
    let len = usize::try_from(file.metadata()?.len())?;
    if len == 0 {
        return Ok(());
    }
    // Dirty pages cannot be dropped: a binary just installed may not be written back yet.
    // Best effort: on a read-only file system there is nothing to write back.
    let _ = file.sync_all();
    nix::fcntl::posix_fadvise(
        file,
        0,
        0,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
    )
    .context("posix_fadvise")?;
    let m = Mapping::new(file, len)?;
    // SAFETY: advice on our own mapping; it changes no content.
    if unsafe { libc::madvise(m.addr.cast(), len, libc::MADV_HUGEPAGE) } != 0 {
        bail!(
            "madvise(MADV_HUGEPAGE): {} (transparent huge pages disabled?)",
            std::io::Error::last_os_error()
        );
    }
    for i in 0..len.div_ceil(PAGE) {
        m.touch(i);
    }
    Ok(())
}

/// How the page cache holds the file: mapped here without asking for huge pages, only the
/// pages already cached touched (so nothing is read), then the kernel's count of what it
/// mapped with 2 MiB entries.
fn held_in_huge_pages(file: &File) -> Result<Held> {
    let size = file.metadata()?.len();
    let len = usize::try_from(size)?;
    if len == 0 {
        return Ok(Held {
            size,
            cached: 0,
            huge: 0,
            small: 0,
        });
    }
    let m = Mapping::new(file, len)?;
    let cached = m.cached()?;
    for (i, _) in cached.iter().enumerate().filter(|(_, c)| **c) {
        m.touch(i);
    }
    let huge = file_pmd_mapped(m.addr as usize)?;
    let in_blocks = cached[..len / HUGE * (HUGE / PAGE)]
        .iter()
        .filter(|c| **c)
        .count();
    Ok(Held {
        size,
        cached: (cached.iter().filter(|c| **c).count() * PAGE) as u64,
        huge,
        small: ((in_blocks * PAGE) as u64).saturating_sub(huge),
    })
}

/// `FilePmdMapped` of the mapping starting at `start`, in bytes, from /proc/self/smaps.
fn file_pmd_mapped(start: usize) -> Result<u64> {
    let smaps =
        std::fs::read_to_string("/proc/self/smaps").context("cannot read /proc/self/smaps")?;
    smaps_field(&smaps, start, "FilePmdMapped:")
        .context("no FilePmdMapped line for the mapping in /proc/self/smaps")
}

/// A `NAME: N kB` field (in bytes) of the smaps entry whose range starts at `start`.
fn smaps_field(smaps: &str, start: usize, name: &str) -> Option<u64> {
    // The kernel prints at least eight hex digits.
    let head = format!("{start:08x}-");
    let mut inside = false;
    for line in smaps.lines() {
        if line
            .split_once(' ')
            .is_some_and(|(range, _)| range.contains('-') && !range.ends_with(':'))
        {
            inside = line.starts_with(&head);
            continue;
        }
        if inside && let Some(rest) = line.strip_prefix(name) {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            return Some(kb * 1024);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_field_reads_the_entry_that_starts_at_the_address() {
        let smaps = "\
00400000-00600000 r--p 00000000 fe:01 12 /usr/bin/rampart
Size:               2048 kB
FilePmdMapped:      2048 kB
7f0000200000-7f0000e00000 r--p 00000000 fe:01 99 /usr/bin/rampart
Size:              12288 kB
FilePmdMapped:      4096 kB
VmFlags: rd mr mw me hg
";
        assert_eq!(
            smaps_field(smaps, 0x7f0000200000, "FilePmdMapped:"),
            Some(4096 * 1024)
        );
        assert_eq!(
            smaps_field(smaps, 0x400000, "FilePmdMapped:"),
            Some(2048 * 1024)
        );
        assert_eq!(smaps_field(smaps, 0x500000, "FilePmdMapped:"), None);
    }

    /// `small` counts what a whole 2 MiB block holds in 4 KiB pages (what doctor warns
    /// about), not the last partial block; a reload leaves none where 2 MiB pages exist.
    #[test]
    fn small_pages_in_whole_blocks_are_counted_until_a_reload() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pagecache-unit");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("f{}", std::process::id()));
        {
            use std::io::Write;
            let mut f = File::create(&path).unwrap();
            // Two whole blocks and a partial one, written in 4 KiB pieces.
            for i in 0..(2 * HUGE + 100 * PAGE) / PAGE {
                f.write_all(&[i as u8; PAGE]).unwrap();
            }
        }
        let h = held(&path).unwrap();
        assert_eq!(h.size, (2 * HUGE + 100 * PAGE) as u64);
        if h.huge == 0 {
            assert_eq!(h.small, (2 * HUGE) as u64, "{h:?}");
        }
        reload(&File::open(&path).unwrap()).unwrap();
        let h = held(&path).unwrap();
        if h.huge > 0 {
            assert_eq!(h.huge, (2 * HUGE) as u64, "{h:?}");
            assert_eq!(h.small, 0, "{h:?}");
        } else {
            eprintln!("no 2 MiB page-cache pages here: {h:?}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn the_report_says_size_cached_and_huge() {
        let h = Held {
            size: 14 << 20,
            cached: 13 << 20,
            huge: 12 << 20,
            small: 0,
        };
        assert_eq!(
            report(Path::new("/usr/bin/rampart"), h),
            "/usr/bin/rampart: 14.0 MiB, 13.0 MiB of it cached, 12.0 MiB as 2 MiB pages\n"
        );
    }
}

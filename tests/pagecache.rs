//! `rampart pagecache`: a copy of the binary, written in small blocks, is read back into the
//! page cache as 2 MiB pages, both when named and when the command runs from that very copy
//! (it re-execs from a memfd, since the pages it runs on could not be dropped); `--check`
//! reports without changing anything. Where the file system or kernel keeps no 2 MiB pages
//! (tmpfs without huge=, ext4 before large folios, THP disabled) the test says SKIPPED.

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_in_small_blocks(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pagecache");
    std::fs::create_dir_all(&dir).unwrap();
    let dst = dir.join(name);
    let _ = std::fs::remove_file(&dst);
    let status = Command::new("dd")
        .arg(format!("if={}", env!("CARGO_BIN_EXE_rampart")))
        .arg(format!("of={}", dst.display()))
        .args(["bs=32k", "status=none"])
        .status()
        .unwrap();
    assert!(status.success());
    Command::new("chmod").arg("755").arg(&dst).status().unwrap();
    dst
}

/// (MiB cached, MiB as 2 MiB pages) from the command's one-line report.
fn held(bin: &Path, args: &[&str]) -> (f64, f64) {
    let out = Command::new(bin)
        .arg("pagecache")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nums: Vec<f64> = text
        .split(", ")
        .skip(1)
        .map(|p| p.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(nums.len(), 2, "{text}");
    (nums[0], nums[1])
}

fn huge_pages_possible(file: &Path) -> bool {
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    let probe = copy_in_small_blocks("probe");
    let me = Path::new(env!("CARGO_BIN_EXE_rampart"));
    let (_, huge) = held(me, &[probe.to_str().unwrap()]);
    let ok = !thp.contains("[never]") && huge > 0.0;
    if !ok {
        eprintln!(
            "SKIPPED: no 2 MiB page-cache pages for {} here",
            file.display()
        );
    }
    ok
}

#[test]
fn pagecache_loads_a_named_binary_and_itself_as_2_mib_pages() {
    let me = Path::new(env!("CARGO_BIN_EXE_rampart"));
    let named = copy_in_small_blocks("named");
    if !huge_pages_possible(&named) {
        return;
    }
    let path = named.to_str().unwrap();
    // Written in 32 KiB blocks (as dpkg writes): cached, in no 2 MiB page.
    let (cached, huge) = held(me, &["--check", path]);
    assert!(cached > 0.0 && huge == 0.0, "{cached} {huge}");
    // --check changed nothing.
    assert_eq!(held(me, &["--check", path]).1, 0.0);
    // Loaded: all but the last partial block in 2 MiB pages.
    let size = std::fs::metadata(&named).unwrap().len() as f64 / (1u64 << 20) as f64;
    let (_, huge) = held(me, &[path]);
    assert!(huge >= size - 2.0, "{huge} of {size} MiB");

    // Run from the copy itself, without a path: the same, through a memfd.
    let own = copy_in_small_blocks("own");
    let (_, before) = held(&own, &["--check"]);
    assert_eq!(before, 0.0);
    let (_, after) = held(&own, &[]);
    assert!(after >= size - 2.0, "{after} of {size} MiB");
}

//! Scanning another process's memory for a value, through `/proc/PID/mem`.
//! Reading it needs ptrace access to that process (proc(5)). The suite runs
//! as root, which has it even for secretfd's non-dumpable supervisor.

use std::fs;
use std::io::{Read, Seek, SeekFrom};

/// Returns the readable mappings of process `pid` whose memory contains
/// `needle`, as lines of `/proc/PID/maps`. The kernel's vDSO data and
/// vsyscall pages are skipped: they contain no data of the process.
pub fn memory_hits(pid: u32, needle: &[u8]) -> Vec<String> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut memory = fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut hits = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(permissions)) = (fields.next(), fields.next()) else { continue };
        let kernel_page = ["[vvar]", "[vvar_vclock]", "[vsyscall]"].iter().any(|name| line.ends_with(name));
        if !permissions.starts_with('r') || kernel_page {
            continue;
        }

        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut bytes = vec![0; (end - start) as usize];
        // A mapping can vanish or be unreadable (guard pages), so skip it.
        if memory.seek(SeekFrom::Start(start)).is_err() || memory.read_exact(&mut bytes).is_err() {
            continue;
        }
        if bytes.windows(needle.len()).any(|window| window == needle) {
            hits.push(line.to_owned());
        }
    }
    hits
}

//! Rampart's seccomp allow-lists (filled in next).

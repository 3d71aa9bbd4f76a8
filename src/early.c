/* The pass-through fast path: runs at the ELF entry point, before the C library starts.
 *
 * Why: a glibc program's start-up reads the CPU's cache sizes through dozens of CPUID
 * instructions (init_cacheinfo: leaf 2, then leaf 4 for every descriptor that says "see
 * leaf 4"), and on a virtual machine every CPUID exits to the hypervisor: 6 µs each on the
 * Intel KVM guest this was measured on, ~450 µs per process start, most of a pass-through
 * call (`start`, `state`, `kill`, `delete`: Docker 20.10 makes three per container after
 * `create`). A call that Rampart only hands to the runtime needs none of it.
 *
 * What: `rampart_entry` (the binary's entry point, build.rs) calls `rampart_early` with the
 * initial stack. When `rampart_fast_decide` is certain the call is a pass-through, that
 * Rampart's full start-up would exec the same runtime with the same argv, and nothing else
 * would happen first, the runtime is exec'd from here. Anything else -- a command Rampart
 * judges, a flag or config line this file does not read exactly, a failed check, a failed
 * execve -- returns, and `rampart_entry` jumps to the C library's `_start` with the stack
 * and registers the kernel gave: Rampart starts as it always did and decides (and reports)
 * itself. In doubt, it leaves the call to Rampart; the tests hold every exec it would make
 * against the one Rampart's full start-up makes (tests/early.rs).
 *
 * Rules for this file (build.rs enforces the first): it calls nothing -- not memcpy, not
 * the stack protector, not errno (the C library is not initialised: no TLS, no ifunc
 * relocations); system calls are made directly. */

#include <stddef.h>

#define SYS_read 0
#define SYS_close 3
#define SYS_poll 7
#define SYS_execve 59
#define SYS_openat 257
#define SYS_newfstatat 262
#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_CLOEXEC 02000000
#define ENOENT 2
#define POLLNVAL 0x20
#define S_IFMT 0170000
#define S_IFREG 0100000

/* The config file read here; a larger one is left to Rampart (which reads up to 1 MiB). */
#define CONFIG_MAX (64 * 1024)
#define MAX_ARGS 256
#define PATH_MAX_HERE 4096

struct rampart_fast {
    const char *runtime;
    char *argv[MAX_ARGS + 2];
    char path[PATH_MAX_HERE];
    char config[CONFIG_MAX + 1];
};

static long sys4(long n, long a, long b, long c, long d) {
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The kernel's struct stat on x86_64 (asm/stat.h). */
struct kstat {
    unsigned long dev, ino, nlink;
    unsigned int mode, uid, gid, pad0;
    unsigned long rdev;
    long size, blksize, blocks;
    unsigned long atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
    long unused[3];
};

static long stat_path(const char *p, struct kstat *st) {
    return sys4(SYS_newfstatat, AT_FDCWD, (long)p, (long)st, 0);
}

static int eq(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* a[0..n) equals the NUL-terminated b. */
static int eqn(const char *a, size_t n, const char *b) {
    size_t i = 0;
    for (; i < n; i++)
        if (b[i] != a[i] || b[i] == 0)
            return 0;
    return b[i] == 0;
}

/* ------------------------------------------------------------------ argv, as runc reads it */

enum flag { F_NONE = -1, F_DEBUG, F_SYSTEMD, F_LOG, F_LOG_FORMAT, F_ROOT, F_CRIU, F_ROOTLESS,
            F_PROFILE, F_CONFIG, F_RUNTIME, F_COUNT };
static const char *const FLAG_NAMES[F_COUNT] = {
    "debug", "systemd-cgroup", "log", "log-format", "root", "criu", "rootless",
    "rampart-profile", "rampart-config", "rampart-runtime",
};
#define FIRST_VALUE_FLAG F_LOG
#define FIRST_RAMPART_FLAG F_PROFILE

/* The commands taken here: the ones Rampart's pipeline hands to the runtime untouched
 * (src/pipeline.rs; `delete` only when no user-namespace staging exists), each with its bool
 * flags (runc 1.1.5; urfave's `help, h` is left to Rampart). A value flag, `--`, or any
 * other spelling after the command leaves the call to Rampart. */
struct command {
    const char *name;
    const char *bools[2][2]; /* up to two flags, each with up to two names */
};
static const struct command COMMANDS[] = {
    {"start", {{0, 0}, {0, 0}}},
    {"state", {{0, 0}, {0, 0}}},
    {"kill", {{"all", "a"}, {0, 0}}},
    {"delete", {{"force", "f"}, {0, 0}}},
    {"pause", {{0, 0}, {0, 0}}},
    {"resume", {{0, 0}, {0, 0}}},
    {"ps", {{0, 0}, {0, 0}}},
    {"events", {{"stats", 0}, {0, 0}}},
    {"list", {{"quiet", "q"}, {0, 0}}},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

/* The flag spelled by `tok` ("-x"/"--x", no "=value", no third dash). */
static const char *flag_name(const char *tok) {
    if (tok[0] != '-' || tok[1] == 0)
        return 0;
    const char *n = tok + 1;
    if (*n == '-')
        n++;
    if (*n == 0 || *n == '-' || *n == '=')
        return 0;
    return n;
}

/* Whether the command's arguments are ones runc and Rampart read alike without help:
 * positionals and the command's own bool flags, each flag at most once. */
static int tail_is_plain(const struct command *c, int argc, char *const *argv, int from) {
    int seen[2] = {0, 0};
    for (int i = from; i < argc; i++) {
        const char *t = argv[i];
        if (t[0] != '-' || t[1] == 0) {
            if (t[0] == '-') /* "-": a positional to Go, but keep it simple */
                return 0;
            continue;
        }
        const char *n = flag_name(t);
        if (!n)
            return 0;
        int hit = -1;
        for (int f = 0; f < 2 && hit < 0; f++)
            for (int k = 0; k < 2; k++)
                if (c->bools[f][k] && eq(n, c->bools[f][k]))
                    hit = f;
        if (hit < 0 || seen[hit]++)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ the config file */

/* The top-level keys and tables Rampart's config file may hold (src/config.rs), read only
 * in the shapes written here: one line each, strings without escapes, single-line arrays
 * of such strings. Any other shape, an unknown or repeated key, or `debug_log` (whose
 * calls Rampart records) leaves the call to Rampart, which parses the file in full. */
enum table { T_TOP, T_LEARN, T_ANNOTATION };
enum kind { K_STRING, K_ARRAY, K_SELECTS };
struct key {
    enum table table;
    const char *name;
    enum kind kind;
};
static const struct key KEYS[] = {
    {T_TOP, "runtime", K_STRING},         {T_TOP, "default_profile", K_STRING},
    {T_TOP, "profiles_dir", K_STRING},    {T_TOP, "audit_log", K_STRING},
    {T_TOP, "annotation_callers", K_ARRAY}, {T_LEARN, "dir", K_STRING},
    {T_ANNOTATION, "key", K_STRING},      {T_ANNOTATION, "selects", K_SELECTS},
    {T_ANNOTATION, "values", K_ARRAY},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])
#define ANNOTATION_KEYS ((1u << 6) | (1u << 7) | (1u << 8))

/* UTF-8 as Rust's String::from_utf8 accepts it (no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else
            return 0;
        if (n - i < len)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += len;
    }
    return 1;
}

/* A byte TOML forbids in comments and strings: control characters other than tab. */
static int control(unsigned char c) {
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

struct cursor {
    char *p, *end;
};

static void skip_ws(struct cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* A one-line basic ("...") or literal ('...') string without escapes; sets *s, *n. */
static int string(struct cursor *c, char **s, size_t *n) {
    if (c->p >= c->end || (*c->p != '"' && *c->p != '\''))
        return 0;
    char q = *c->p++;
    char *start = c->p;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || control((unsigned char)*c->p))
            return 0;
        c->p++;
    }
    if (c->p >= c->end)
        return 0;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 1;
}

static int array(struct cursor *c) {
    char *s;
    size_t n;
    if (c->p >= c->end || *c->p != '[')
        return 0;
    c->p++;
    skip_ws(c);
    while (c->p < c->end && *c->p != ']') {
        if (!string(c, &s, &n))
            return 0;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            skip_ws(c);
        } else if (c->p >= c->end || *c->p != ']')
            return 0;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    return 1;
}

/* The rest of a line: white space, then nothing or a comment. */
static int line_end(struct cursor *c) {
    skip_ws(c);
    if (c->p < c->end && *c->p == '#')
        for (c->p++; c->p < c->end; c->p++)
            if (control((unsigned char)*c->p))
                return 0;
    return c->p == c->end;
}

/* `[name]` or `[[name]]` with optional white space inside the brackets. */
static int header(struct cursor *c, int doubled, const char *name) {
    char *save = c->p;
    if (*c->p++ != '[' || (doubled && (c->p >= c->end || *c->p++ != '[')))
        goto no;
    skip_ws(c);
    char *k = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != ']')
        c->p++;
    if (!eqn(k, (size_t)(c->p - k), name))
        goto no;
    skip_ws(c);
    if (c->p >= c->end || *c->p++ != ']' || (doubled && (c->p >= c->end || *c->p++ != ']')))
        goto no;
    return 1;
no:
    c->p = save;
    return 0;
}

static int is_key_byte(char b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
           b == '_' || b == '-';
}

/* Reads the config file's text; returns 1 when every line was read exactly, with *runtime
 * (NUL-terminated in place) the `runtime` value or null. */
static int read_config(char *text, size_t len, char **runtime) {
    *runtime = 0;
    if (!utf8_ok((const unsigned char *)text, len))
        return 0;
    enum table table = T_TOP;
    unsigned seen = 0;  /* keys set in the current table (bits of KEYS) */
    int learn_seen = 0;
    char *line = text, *end = text + len;
    while (line < end) {
        char *nl = line;
        while (nl < end && *nl != '\n')
            nl++;
        struct cursor c = {line, nl};
        line = nl + 1;
        skip_ws(&c);
        if (c.p == c.end || *c.p == '#') {
            if (!line_end(&c))
                return 0;
            continue;
        }
        if (*c.p == '[') {
            if (table == T_ANNOTATION && (seen & ANNOTATION_KEYS) != ANNOTATION_KEYS)
                return 0;
            if (header(&c, 1, "annotations"))
                table = T_ANNOTATION;
            else if (header(&c, 0, "learn") && !learn_seen++)
                table = T_LEARN;
            else
                return 0;
            seen = 0;
            if (!line_end(&c))
                return 0;
            continue;
        }
        char *k = c.p;
        while (c.p < c.end && is_key_byte(*c.p))
            c.p++;
        size_t klen = (size_t)(c.p - k);
        skip_ws(&c);
        if (klen == 0 || c.p >= c.end || *c.p++ != '=')
            return 0;
        skip_ws(&c);
        size_t i = 0;
        while (i < NKEYS && !(KEYS[i].table == table && eqn(k, klen, KEYS[i].name)))
            i++;
        if (i == NKEYS || (seen & (1u << i)))
            return 0; /* unknown (debug_log among them) or repeated */
        seen |= 1u << i;
        char *s;
        size_t n;
        switch (KEYS[i].kind) {
        case K_ARRAY:
            if (!array(&c))
                return 0;
            break;
        case K_SELECTS:
            if (!string(&c, &s, &n) || !(eqn(s, n, "profile") || eqn(s, n, "waive")))
                return 0;
            break;
        case K_STRING:
            if (!string(&c, &s, &n))
                return 0;
            if (i == 0) {
                *runtime = s;
                s[n] = 0; /* the closing quote */
            }
            break;
        }
        if (!line_end(&c))
            return 0;
    }
    if (table == T_ANNOTATION && (seen & ANNOTATION_KEYS) != ANNOTATION_KEYS)
        return 0;
    return 1;
}

/* ------------------------------------------------------------------ the runtime */

static int self_id(unsigned long *dev, unsigned long *ino) {
    struct kstat st;
    if (stat_path("/proc/self/exe", &st) < 0)
        return 0;
    *dev = st.dev;
    *ino = st.ino;
    return 1;
}

/* 1: an executable regular file that is not Rampart; 0: not usable; -1: Rampart itself. */
static int usable(const char *p, unsigned long sdev, unsigned long sino) {
    struct kstat st;
    if (stat_path(p, &st) < 0)
        return 0;
    if (st.dev == sdev && st.ino == sino)
        return -1;
    return (st.mode & S_IFMT) == S_IFREG && (st.mode & 0111) != 0;
}

static const char *const USUAL_RUNC_PATHS[] = {
    "/usr/bin/runc", "/usr/sbin/runc", "/usr/local/bin/runc", "/usr/local/sbin/runc",
};

/* The first `runc` on PATH that is not Rampart, then the usual paths (src/settings.rs,
 * find_runc). PATH with an empty or relative entry is left to Rampart. */
static const char *find_runc(char *const *envp, struct rampart_fast *f, unsigned long sdev,
                             unsigned long sino) {
    const char *path = 0;
    for (char *const *e = envp; *e; e++)
        if ((*e)[0] == 'P' && (*e)[1] == 'A' && (*e)[2] == 'T' && (*e)[3] == 'H' &&
            (*e)[4] == '=') {
            path = *e + 5;
            break;
        }
    while (path) {
        const char *d = path;
        while (*path && *path != ':')
            path++;
        size_t n = (size_t)(path - d);
        if (n == 0 || d[0] != '/' || n + sizeof "/runc" > PATH_MAX_HERE)
            return 0;
        size_t i = 0;
        for (; i < n; i++)
            f->path[i] = d[i];
        if (f->path[i - 1] != '/')
            f->path[i++] = '/';
        const char *r = "runc";
        while (*r)
            f->path[i++] = *r++;
        f->path[i] = 0;
        if (usable(f->path, sdev, sino) == 1)
            return f->path;
        path = *path ? path + 1 : 0;
    }
    for (size_t i = 0; i < sizeof USUAL_RUNC_PATHS / sizeof USUAL_RUNC_PATHS[0]; i++)
        if (usable(USUAL_RUNC_PATHS[i], sdev, sino) == 1)
            return USUAL_RUNC_PATHS[i];
    return 0;
}

/* ------------------------------------------------------------------ the decision */

/* 1 when the call is a pass-through that Rampart would hand to f->runtime with f->argv
 * (NULL-terminated) and do nothing else; 0 when it is Rampart's to handle. */
int rampart_fast_decide(int argc, char *const *argv, char *const *envp,
                        struct rampart_fast *f) {
    const char *value[F_COUNT];
    int strip[F_COUNT][2];
    for (int i = 0; i < F_COUNT; i++) {
        value[i] = 0;
        strip[i][0] = strip[i][1] = -1;
    }
    if (argc < 2 || argc > MAX_ARGS)
        return 0;
    int at = 1;
    int used = 0;
    for (; at < argc && argv[at][0] == '-'; at++) {
        const char *n = flag_name(argv[at]);
        if (!n)
            return 0; /* "-", "--", "---x", "-=x" */
        const char *eqs = n;
        while (*eqs && *eqs != '=')
            eqs++;
        int fl = F_NONE;
        for (int i = 0; i < F_COUNT && fl == F_NONE; i++)
            if (eqn(n, (size_t)(eqs - n), FLAG_NAMES[i]))
                fl = i;
        if (fl == F_NONE || (used & (1 << fl)))
            return 0; /* help, version, an unknown flag, a repeated one */
        used |= 1 << fl;
        if (fl < FIRST_VALUE_FLAG) {
            if (*eqs)
                return 0; /* "--debug=false" */
            value[fl] = "";
            continue;
        }
        strip[fl][0] = at;
        if (*eqs) {
            value[fl] = eqs + 1;
        } else {
            if (at + 1 >= argc)
                return 0;
            value[fl] = argv[++at];
            strip[fl][1] = at;
        }
    }
    if (at >= argc)
        return 0;
    const struct command *cmd = 0;
    for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
        if (eq(argv[at], COMMANDS[i].name))
            cmd = &COMMANDS[i];
    if (!cmd || !tail_is_plain(cmd, argc, argv, at + 1))
        return 0;
    if (eq(cmd->name, "delete")) {
        /* Rampart removes a container's user-namespace clones on delete (src/stage.rs):
         * only where the staging directory has no subdirectory is there nothing to do. */
        struct kstat st;
        if (stat_path("/run/rampart/stage", &st) == 0 && st.nlink != 2)
            return 0;
    }

    unsigned long sdev, sino;
    if (!self_id(&sdev, &sino))
        return 0;
    /* The config file is read whatever argv says: Rampart refuses every call when it cannot
     * read it, and `debug_log` there records every call. */
    const char *path = value[F_CONFIG] ? value[F_CONFIG] : "/etc/rampart/config.toml";
    long fd = sys4(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0);
    char *from_config = 0;
    if (fd >= 0) {
        size_t len = 0;
        long r;
        while ((r = sys4(SYS_read, fd, (long)(f->config + len), CONFIG_MAX + 1 - len, 0)) > 0)
            if ((len += (size_t)r) > CONFIG_MAX)
                break;
        sys4(SYS_close, fd, 0, 0, 0);
        if (r < 0 || len > CONFIG_MAX || !read_config(f->config, len, &from_config))
            return 0;
    } else if (value[F_CONFIG] || fd != -ENOENT) {
        return 0; /* a named file must exist; any other failure is Rampart's to report */
    }
    /* --rampart-runtime, then the config file's `runtime`, then runc on PATH. */
    const char *runtime = value[F_RUNTIME] ? value[F_RUNTIME] : from_config;
    if (!runtime && !(runtime = find_runc(envp, f, sdev, sino)))
        return 0;
    if (runtime[0] != '/' || usable(runtime, sdev, sino) != 1)
        return 0;

    int n = 0;
    f->runtime = runtime;
    f->argv[n++] = (char *)runtime;
    for (int i = 1; i < argc; i++) {
        int drop = 0;
        for (int k = FIRST_RAMPART_FLAG; k < F_COUNT; k++)
            drop |= strip[k][0] == i || strip[k][1] == i;
        if (!drop)
            f->argv[n++] = argv[i];
    }
    f->argv[n] = 0;
    return 1;
}

/* For the tests' bindings (src/early.rs): the size they must allocate. */
size_t rampart_fast_size(void) {
    return sizeof(struct rampart_fast);
}

/* 1 when descriptors 0-2 are all open (Rampart opens a closed one on /dev/null before
 * anything else: left to it). */
static int stdio_open(void) {
    struct {
        int fd;
        short events, revents;
    } fds[3] = {{0, 0, 0}, {1, 0, 0}, {2, 0, 0}};
    if (sys4(SYS_poll, (long)fds, 3, 0, 0) < 0)
        return 0;
    return !((fds[0].revents | fds[1].revents | fds[2].revents) & POLLNVAL);
}

static struct rampart_fast early;

__attribute__((used, visibility("hidden"))) void rampart_early(long *sp) {
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    /* Decided first: a call Rampart handles (every create) pays no poll here; the files the
     * decision opens are closed again, so a closed 0-2 is still closed for the check. */
    if (!rampart_fast_decide(argc, argv, envp, &early) || !stdio_open())
        return;
    sys4(SYS_execve, (long)early.runtime, (long)early.argv, (long)envp, 0);
    /* The execve failed: Rampart's full start-up tries again and reports why. */
}

/* The entry point. The kernel (or, in a dynamically linked build, ld.so) starts here with
 * %rsp at argc and %rdx holding a function for atexit; both are restored exactly before the
 * C library's _start runs. */
__asm__(".text\n"
        ".globl rampart_entry\n"
        ".type rampart_entry,@function\n"
        "rampart_entry:\n"
        "    mov %rdx, %r12\n"
        "    mov %rsp, %rbx\n"
        "    mov %rsp, %rdi\n"
        "    and $-16, %rsp\n"
        "    call rampart_early\n"
        "    mov %rbx, %rsp\n"
        "    mov %r12, %rdx\n"
        "    jmp _start\n"
        ".size rampart_entry, .-rampart_entry\n");

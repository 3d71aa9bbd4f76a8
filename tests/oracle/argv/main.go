// Oracle for Rampart's argv scanning: runc 1.1.5's global and per-command flags, defined with
// the real urfave/cli (1.22, as runc vendors it), parse os.Args exactly as runc would; the
// program prints, as one JSON line, what runc would act on. Strings are hex (argv is bytes).
//
// Build (GOPATH mode, Debian's golang-github-urfave-cli-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o target/oracle-argv ./tests/oracle/argv
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io/ioutil"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli"
)

type result struct {
	Ran     bool                   `json:"ran"`
	Error   bool                   `json:"error"`
	Command string                 `json:"command,omitempty"`
	Args    []string               `json:"args,omitempty"`
	Flags   map[string]interface{} `json:"flags,omitempty"`
	Global  map[string]interface{} `json:"global,omitempty"`
}

var out result

func name(f cli.Flag) string {
	return strings.TrimSpace(strings.Split(f.GetName(), ",")[0])
}

func hexs(ss []string) []string {
	r := make([]string, 0, len(ss))
	for _, s := range ss {
		r = append(r, hex.EncodeToString([]byte(s)))
	}
	return r
}

// values: every flag of `flags` that is set, read through the same accessors runc uses.
func values(flags []cli.Flag, isSet func(string) bool, c *cli.Context, global bool) map[string]interface{} {
	m := map[string]interface{}{}
	for _, f := range flags {
		n := name(f)
		switch f.(type) {
		case cli.StringSliceFlag:
			var v []string
			if global {
				v = c.GlobalStringSlice(n)
			} else {
				v = c.StringSlice(n)
			}
			if len(v) > 0 {
				m[n] = hexs(v)
			}
			continue
		case cli.Int64SliceFlag:
			if v := c.Int64Slice(n); len(v) > 0 {
				m[n] = v
			}
			continue
		}
		if !isSet(n) {
			continue
		}
		switch f.(type) {
		case cli.BoolFlag:
			if global {
				m[n] = c.GlobalBool(n)
			} else {
				m[n] = c.Bool(n)
			}
		case cli.StringFlag:
			if global {
				m[n] = hex.EncodeToString([]byte(c.GlobalString(n)))
			} else {
				m[n] = hex.EncodeToString([]byte(c.String(n)))
			}
		case cli.IntFlag:
			m[n] = c.Int(n)
		case cli.DurationFlag:
			m[n] = c.Duration(n).Nanoseconds()
		}
	}
	return m
}

func action(c *cli.Context) error {
	out.Ran = true
	out.Command = c.Command.Name
	out.Args = hexs(c.Args())
	out.Flags = values(c.Command.Flags, c.IsSet, c, false)
	out.Global = values(c.App.Flags, c.GlobalIsSet, c, true)
	return nil
}

func command(n string, reorder bool, flags ...cli.Flag) cli.Command {
	return cli.Command{Name: n, Flags: flags, SkipArgReorder: !reorder, Action: action}
}

func b(n string) cli.Flag    { return cli.BoolFlag{Name: n} }
func s(n string) cli.Flag    { return cli.StringFlag{Name: n} }
func i(n string) cli.Flag    { return cli.IntFlag{Name: n} }
func ss(n string) cli.Flag   { return cli.StringSliceFlag{Name: n} }
func i64s(n string) cli.Flag { return cli.Int64SliceFlag{Name: n} }

// parse runs a fresh runc app over argv (argv[0] included) and returns what it parsed.
func parse(argv []string) result {
	out = result{}
	app := cli.NewApp()
	app.Name = "runc"
	app.Version = "1.1.5"
	app.Writer = ioutil.Discard
	app.ErrWriter = ioutil.Discard
	// main.go
	app.Flags = []cli.Flag{b("debug"), s("log"), s("log-format"), s("root"), s("criu"), b("systemd-cgroup"), s("rootless")}
	app.Commands = []cli.Command{
		// checkpoint.go
		command("checkpoint", true, s("image-path"), s("work-path"), s("parent-path"), b("leave-running"),
			b("tcp-established"), b("ext-unix-sk"), b("shell-job"), b("lazy-pages"),
			cli.IntFlag{Name: "status-fd", Value: -1}, s("page-server"), b("file-locks"), b("pre-dump"),
			s("manage-cgroups-mode"), ss("empty-ns"), b("auto-dedup")),
		// create.go
		command("create", true, s("bundle, b"), s("console-socket"), s("pid-file"), b("no-pivot"),
			b("no-new-keyring"), i("preserve-fds")),
		command("delete", true, b("force, f")),
		command("events", true, cli.DurationFlag{Name: "interval", Value: 5 * time.Second}, b("stats")),
		// exec.go (SkipArgReorder)
		command("exec", false, s("console-socket"), s("cwd"), ss("env, e"), b("tty, t"), s("user, u"),
			i64s("additional-gids, g"), s("process, p"), b("detach,d"), s("pid-file"), s("process-label"),
			s("apparmor"), b("no-new-privs"), cli.StringSliceFlag{Name: "cap, c", Value: &cli.StringSlice{}},
			i("preserve-fds"), ss("cgroup"), b("ignore-paused")),
		command("kill", true, b("all, a")),
		command("list", true, cli.StringFlag{Name: "format, f", Value: "table"}, b("quiet, q")),
		command("pause", true),
		// ps.go (SkipArgReorder)
		command("ps", false, cli.StringFlag{Name: "format, f", Value: "table"}),
		// restore.go
		command("restore", true, s("console-socket"), s("image-path"), s("work-path"), b("tcp-established"),
			b("ext-unix-sk"), b("shell-job"), b("file-locks"), s("manage-cgroups-mode"), s("bundle, b"),
			b("detach,d"), s("pid-file"), b("no-subreaper"), b("no-pivot"), ss("empty-ns"), b("auto-dedup"),
			b("lazy-pages"), s("lsm-profile"), s("lsm-mount-context")),
		command("resume", true),
		// run.go
		command("run", true, s("bundle, b"), s("console-socket"), b("detach, d"), b("keep"), s("pid-file"),
			b("no-subreaper"), b("no-pivot"), b("no-new-keyring"), i("preserve-fds")),
		command("spec", true, s("bundle, b"), b("rootless")),
		command("start", true),
		command("state", true),
		// update.go
		command("update", true, s("resources, r"), i("blkio-weight"), s("cpu-period"), s("cpu-quota"),
			s("cpu-share"), s("cpu-rt-period"), s("cpu-rt-runtime"), s("cpuset-cpus"), s("cpuset-mems"),
			s("kernel-memory"), s("kernel-memory-tcp"), s("memory"), s("memory-reservation"), s("memory-swap"),
			i("pids-limit"), s("l3-cache-schema"), s("mem-bw-schema")),
		command("features", true),
	}
	if err := app.Run(argv); err != nil {
		out.Error = true
	}
	return out
}

// With arguments: parses them. Without: reads argvs from stdin, one JSON array of hex
// strings (argv[1:]) per line, and answers each with one line.
func main() {
	cli.OsExiter = func(int) {}
	cli.ErrWriter = ioutil.Discard
	enc := json.NewEncoder(os.Stdout)
	if len(os.Args) > 1 {
		_ = enc.Encode(parse(os.Args))
		return
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	w := bufio.NewWriter(os.Stdout)
	enc = json.NewEncoder(w)
	for in.Scan() {
		var hexArgs []string
		if err := json.Unmarshal(in.Bytes(), &hexArgs); err != nil {
			panic(err)
		}
		argv := []string{"runc"}
		for _, h := range hexArgs {
			b, err := hex.DecodeString(h)
			if err != nil {
				panic(err)
			}
			argv = append(argv, string(b))
		}
		_ = enc.Encode(parse(argv))
	}
	_ = w.Flush()
}

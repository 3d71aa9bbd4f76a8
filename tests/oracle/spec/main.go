// Command spec is Rampart's oracle for how runc 1.1.5 decodes its JSON inputs: it uses the
// same Go encoding/json and the same runtime-spec types (the Debian packages runc is built
// from), so what it prints is what runc reads.
//
//	spec      stdin → specs.Spec as runc's loadSpec (spec.go) reads config.json
//	process   stdin → specs.Process as `runc exec --process FILE` (exec.go getProcess) reads it
//	resources stdin → specs.LinuxResources as `runc update -r FILE|-` (update.go) reads it
//	schema    every struct type reachable from the three roots, with its JSON fields
//	batch M   many inputs for mode M, each framed as "<length>\n<bytes>"; one line out for
//	          each: {"ok":<decoded>} or {"err":"<decode error>"} (for tests: one process)
//
// The decode modes print json.Marshal of the result, or the decode error on stderr with
// exit status 1.
//
// Build (GOPATH mode): GO111MODULE=off GOPATH=/usr/share/gocode go build -o spec-oracle .
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func i64Ptr(i int64) *int64   { return &i }
func u64Ptr(i uint64) *uint64 { return &i }
func u16Ptr(i uint16) *uint16 { return &i }

func decode(mode string, in io.Reader) (interface{}, error) {
	dec := json.NewDecoder(in)
	switch mode {
	case "spec":
		// spec.go loadSpec: var spec *specs.Spec; json.NewDecoder(cf).Decode(&spec)
		var spec *specs.Spec
		err := dec.Decode(&spec)
		return spec, err
	case "process":
		// exec.go getProcess: var p specs.Process; json.NewDecoder(f).Decode(&p)
		var p specs.Process
		err := dec.Decode(&p)
		return &p, err
	case "resources":
		// update.go: r starts with these values, then json.NewDecoder(f).Decode(&r)
		r := specs.LinuxResources{
			Memory: &specs.LinuxMemory{
				Limit:       i64Ptr(0),
				Reservation: i64Ptr(0),
				Swap:        i64Ptr(0),
				Kernel:      i64Ptr(0),
				KernelTCP:   i64Ptr(0),
			},
			CPU: &specs.LinuxCPU{
				Shares:          u64Ptr(0),
				Quota:           i64Ptr(0),
				Period:          u64Ptr(0),
				RealtimeRuntime: i64Ptr(0),
				RealtimePeriod:  u64Ptr(0),
			},
			BlockIO: &specs.LinuxBlockIO{Weight: u16Ptr(0)},
			Pids:    &specs.LinuxPids{Limit: 0},
		}
		err := dec.Decode(&r)
		return &r, err
	}
	return nil, fmt.Errorf("unknown mode %q", mode)
}

// Field is one JSON field of a struct as encoding/json sees it (embedded structs flattened).
type Field struct {
	JSON  string `json:"json"`
	Go    string `json:"go"`
	Type  string `json:"type"`
	Shape string `json:"shape"`
}

type Type struct {
	Name   string  `json:"name"`
	Fields []Field `json:"fields"`
}

type Schema struct {
	Roots map[string]string `json:"roots"`
	Types []Type            `json:"types"`
}

type walker struct {
	seen  map[reflect.Type]bool
	types []Type
}

// shape describes how a value of type t is decoded:
// struct:NAME, slice:SHAPE, map:SHAPE, ptr:SHAPE, any (interface{}), scalar:KIND.
func (w *walker) shape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		w.visit(t)
		return "struct:" + t.Name()
	case reflect.Slice, reflect.Array:
		return "slice:" + w.shape(t.Elem())
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic("map with non-string key: " + t.String())
		}
		return "map:" + w.shape(t.Elem())
	case reflect.Ptr:
		return "ptr:" + w.shape(t.Elem())
	case reflect.Interface:
		return "any"
	default:
		return "scalar:" + t.Kind().String()
	}
}

// fields lists t's JSON fields in encoding/json's order (index sequence), promoting the
// fields of untagged embedded structs.
func (w *walker) fields(t reflect.Type, out *[]Field) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if strings.Contains(tag, ",string") {
			panic("field with ,string option: " + t.Name() + "." + sf.Name)
		}
		ft := sf.Type
		if sf.Anonymous {
			if ft.Kind() == reflect.Ptr {
				ft = ft.Elem()
			}
			if !sf.IsExported() && ft.Kind() != reflect.Struct {
				continue
			}
			if name == "" && ft.Kind() == reflect.Struct {
				w.fields(ft, out)
				continue
			}
		} else if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		*out = append(*out, Field{JSON: name, Go: t.Name() + "." + sf.Name, Type: sf.Type.String(), Shape: w.shape(sf.Type)})
	}
}

func (w *walker) visit(t reflect.Type) {
	if w.seen[t] {
		return
	}
	w.seen[t] = true
	i := len(w.types)
	w.types = append(w.types, Type{Name: t.Name()})
	var fs []Field
	w.fields(t, &fs)
	names := map[string]bool{}
	for _, f := range fs {
		if names[f.JSON] {
			panic("duplicate JSON name " + f.JSON + " in " + t.Name())
		}
		names[f.JSON] = true
	}
	w.types[i].Fields = fs
}

func schema() Schema {
	w := &walker{seen: map[reflect.Type]bool{}}
	roots := map[string]string{}
	for mode, v := range map[string]interface{}{
		"spec": specs.Spec{}, "process": specs.Process{}, "resources": specs.LinuxResources{},
	} {
		t := reflect.TypeOf(v)
		roots[mode] = t.Name()
	}
	// A fixed visiting order keeps the output stable.
	w.visit(reflect.TypeOf(specs.Spec{}))
	w.visit(reflect.TypeOf(specs.Process{}))
	w.visit(reflect.TypeOf(specs.LinuxResources{}))
	return Schema{Roots: roots, Types: w.types}
}

func main() {
	if len(os.Args) < 2 || (len(os.Args) != 2 && os.Args[1] != "batch") {
		fmt.Fprintln(os.Stderr, "usage: spec-oracle spec|process|resources|schema < input")
		os.Exit(2)
	}
	if os.Args[1] == "batch" && len(os.Args) == 3 {
		batch(os.Args[2])
		return
	}
	var out interface{}
	if os.Args[1] == "schema" {
		out = schema()
	} else {
		v, err := decode(os.Args[1], os.Stdin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(append(b, '\n'))
}

func batch(mode string) {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for {
		var n int
		if _, err := fmt.Fscanf(in, "%d\n", &n); err == io.EOF {
			return
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "batch framing:", err)
			os.Exit(2)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(in, buf); err != nil {
			fmt.Fprintln(os.Stderr, "batch framing:", err)
			os.Exit(2)
		}
		var line interface{}
		if v, err := decode(mode, bytes.NewReader(buf)); err != nil {
			line = map[string]string{"err": err.Error()}
		} else {
			line = map[string]interface{}{"ok": v}
		}
		b, err := json.Marshal(line)
		if err != nil {
			b, _ = json.Marshal(map[string]string{"err": "marshal: " + err.Error()})
		}
		out.Write(append(b, '\n'))
	}
}

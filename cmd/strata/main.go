// Command strata moves, checks and inspects objects in any store strata
// can open: local directories, S3, MinIO, Backblaze B2 and memory.
//
// Usage:
//
//	strata migrate SRC DST [--workers N] [--delete] [--dry-run] [--older-than D] [--prefix P]
//	strata offload CACHE_DIR REMOTE [--older-than D] [--keep-local] [--skip-missing] [--dry-run] [--workers N]
//	strata verify SRC DST [--prefix P] [--size-only]
//	strata ls URL [PREFIX] [--long]
//	strata stat URL KEY...
//	strata cat URL KEY
//	strata cp SRC-URL SRC-KEY DST-URL [DST-KEY]
//	strata rm URL KEY...
//	strata mb URL
//	strata bench URL
//
// Every location is a URL that storage.Open understands (file:///srv/media,
// s3://bucket?region=eu-central-1, minio://host:9000/bucket, b2://bucket,
// mem://); a plain path such as /srv/media or ./media means a local
// directory. Keys are given as separate arguments, relative to the
// location. Credentials come from the environment variables each SDK
// already reads (AWS_ACCESS_KEY_ID, MINIO_ACCESS_KEY,
// B2_APPLICATION_KEY_ID, ...), never from the command line, and are never
// printed.
//
// Run "strata help COMMAND" for the flags and examples of each command.
//
// Exit status: 0 on success; 1 when some objects failed (migrate, offload), differ
// (verify) or an operation failed (ls, stat, cat, cp, rm, mb, bench); 2 for a
// usage error or an error that stopped the whole command (a bad URL, a
// local directory to read from that does not exist, a listing that
// failed, objects verify could not read); 130 after Ctrl-C.
//
// A local directory a command reads from (the source of migrate, verify
// and cp, both sides of verify, the location of ls, stat, cat, rm and
// bench) must exist: strata never creates it, so that a mistyped path is
// an error rather than an empty store. A destination directory is created
// when missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/strata-storage/strata/storage"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitError       = 2
	exitInterrupted = 130
)

// env is what a command runs with: its streams and whether stderr is a
// terminal. Tests run commands with buffers.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// tty reports that stderr is a terminal: progress is drawn as a bar.
	tty bool
	// signals delivers SIGINT and SIGTERM; nil means none arrive.
	signals <-chan os.Signal
	// exit ends the process at once, after a second Ctrl-C when the work
	// in flight does not stop soon; nil means never.
	exit func(code int)
	// procs sets the number of CPUs that run Go code at once, unless the
	// user chose it; nil leaves it (tests running commands in-process).
	procs func(n int)
}

// command is one subcommand.
type command struct {
	name     string
	args     string // the synopsis after the name
	summary  string
	details  string // more text for help, may be empty
	examples []string
	// minPos and maxPos bound the number of positional arguments; maxPos
	// -1 means no limit.
	minPos, maxPos int
	// newFlags registers the command's flags on fs and returns their
	// values (see flagsOf); nil when it has none.
	newFlags func(fs *flag.FlagSet) any
	// run runs the command, its command line parsed.
	run func(ctx context.Context, e *env, in *invocation) int
}

// invocation is a command line of one command, parsed.
type invocation struct {
	cmd *command
	// args are the arguments as given after the command's name.
	args []string
	// flags is what the command's newFlags returned, its flags set.
	flags any
	// pos are the positional arguments.
	pos []string
}

// flagsOf is a command's newFlags for flags held in a T whose define
// method registers them.
func flagsOf[T any, P interface {
	*T
	define(fs *flag.FlagSet)
}](fs *flag.FlagSet) any {
	f := P(new(T))
	f.define(fs)
	return f
}

var commands []*command

func init() {
	commands = []*command{
		migrateCommand, offloadCommand, verifyCommand, lsCommand, statCommand, catCommand,
		cpCommand, rmCommand, mbCommand, benchCommand, versionCommand,
	}
}

func main() {
	tuneGC()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	e := &env{
		stdin:   os.Stdin,
		stdout:  os.Stdout,
		stderr:  os.Stderr,
		tty:     term.IsTerminal(int(os.Stderr.Fd())),
		signals: sig,
		exit:    os.Exit,
		procs: func(n int) {
			if os.Getenv("GOMAXPROCS") == "" {
				runtime.GOMAXPROCS(n)
			}
		},
	}
	os.Exit(run(context.Background(), e, os.Args[1:]))
}

// Garbage collector settings, unless GOGC or GOMEMLIMIT say otherwise.
// strata's live heap is small (a few MiB for small objects) while every
// object sent allocates in the drivers and net/http (about 17 KiB for a
// 32 KiB file to MinIO, its body buffers being pooled): gcPercent lets the
// heap grow to three times the live data between collections, so that a
// migration of 20,000 small files collects about 30 times, for a peak RSS
// of about 40 MiB with 32 workers (400 gave 56 MiB for no CPU saved);
// memoryLimit, above the most the migration engine holds at once (its
// 64 MiB budget of small objects in flight and one large upload), keeps
// large transfers from growing as far as that.
const (
	gcPercent   = 200
	memoryLimit = 160 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitError
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				commandHelp(e.stdout, c)
				return exitOK
			}
			return fail(e, exitError, "unknown command %q; run 'strata help' for the list", args[1])
		}
		usage(e.stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		return fail(e, exitError, "unknown command %q; run 'strata help' for the list", name)
	}
	in, done, status := c.parse(e, args[1:])
	if done {
		return status
	}
	return c.run(ctx, e, in)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, `strata moves, checks and inspects objects in local directories, S3, MinIO,
Backblaze B2 and memory.

Usage:
  strata COMMAND [ARGUMENTS] [FLAGS]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Locations are URLs: file:///srv/media (or a plain path), s3://bucket?region=R,
minio://host:9000/bucket, b2://bucket, mem://. Credentials come from the
environment variables each SDK reads (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, MINIO_ACCESS_KEY and MINIO_SECRET_KEY,
B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY), never from the command line.

Run 'strata help COMMAND' for a command's flags and examples.
`)
}

func commandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: strata %s %s\n\n%s\n", c.name, c.args, c.summary)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.details))
	}
	if fs := c.flags(); fs != nil {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, fs)
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, ex := range c.examples {
			fmt.Fprintf(w, "  %s\n", ex)
		}
	}
}

// flags returns the command's flag set with nothing parsed, for help.
func (c *command) flags() *flag.FlagSet {
	if c.newFlags == nil {
		return nil
	}
	fs, _ := c.flagSet()
	return fs
}

// flagSet returns a flag set with the command's flags registered, and
// their values.
func (c *command) flagSet() (*flag.FlagSet, any) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var values any
	if c.newFlags != nil {
		values = c.newFlags(fs)
	}
	return fs, values
}

// fail prints one line "strata: msg" on stderr and returns status. Line
// breaks in msg become "; " so that an error is always one line.
func fail(e *env, status int, format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
	fmt.Fprintf(e.stderr, "strata: %s\n", msg)
	return status
}

// hint returns advice to append to the error of an operation on the
// location rawURL, or "".
func hint(err error, rawURL string) string {
	switch {
	case errors.Is(err, storage.ErrPermission):
		scheme, _, _ := strings.Cut(rawURL, ":")
		vars := credentialVars[strings.ToLower(scheme)]
		if vars == "" {
			return " (check the permissions)"
		}
		if first, _, _ := strings.Cut(vars, " "); strings.Contains(err.Error(), first) {
			return "" // the driver's message already says what to set
		}
		return " (check the credentials in " + vars + ")"
	case errors.Is(err, storage.ErrUnavailable):
		return " (the store could not be reached; try again later)"
	case errors.Is(err, storage.ErrNoBucket):
		return missingBucketHint(rawURL)
	}
	return ""
}

// credentialVars names the environment variables each scheme's driver
// reads its credentials from.
var credentialVars = map[string]string{
	"s3":    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
	"minio": "MINIO_ACCESS_KEY and MINIO_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
	"b2":    "B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY",
}

// parseArgs parses flags anywhere among the arguments, as most Unix tools
// do ("strata migrate SRC DST --workers 8"), and returns the positional
// arguments. Everything after "--" is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parse parses the command's arguments and checks the number of
// positional arguments. When it returns done, the command returns status:
// help was printed, or the arguments were wrong.
func (c *command) parse(e *env, args []string) (in *invocation, done bool, status int) {
	fs, values := c.flagSet()
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		commandHelp(e.stdout, c)
		return nil, true, exitOK
	}
	if err != nil {
		return nil, true, fail(e, exitError, "%s: %v; run 'strata help %s'", c.name, err, c.name)
	}
	if len(pos) < c.minPos || (c.maxPos >= 0 && len(pos) > c.maxPos) {
		return nil, true, fail(e, exitError, "%s: wrong number of arguments; usage: strata %s %s", c.name, c.name, c.args)
	}
	return &invocation{cmd: c, args: args, flags: values, pos: pos}, false, 0
}

var versionCommand = &command{
	name:    "version",
	args:    "",
	summary: "Print the version of strata and of Go it was built with.",
	run:     runVersion,
}

func runVersion(ctx context.Context, e *env, in *invocation) int {
	v, goV := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		goV = bi.GoVersion
	}
	fmt.Fprintf(e.stdout, "strata %s %s\n", v, goV)
	return exitOK
}

// printFlags lists fs's flags the Unix way: "--name VALUE" for long names,
// "-q" for one-letter ones, each with its usage and default.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		kind, usage := flag.UnquoteUsage(f)
		name := dash + f.Name
		if kind != "" {
			name += " " + strings.ToUpper(kind)
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  %-28s %s%s\n", name, usage, def)
	})
}

package miniotest

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTmpfsSize(t *testing.T) {
	for _, tc := range []struct {
		want bool
		env  string
		set  bool
		size string
		bad  bool
	}{
		{want: true, size: DefaultTmpfsSize},
		{want: true, set: true, env: "", size: DefaultTmpfsSize},
		{want: true, set: true, env: "1", size: DefaultTmpfsSize},
		{want: true, set: true, env: "true", size: DefaultTmpfsSize},
		{want: true, set: true, env: "0", size: ""},
		{want: true, set: true, env: "off", size: ""},
		{want: true, set: true, env: "FALSE", size: ""},
		{want: true, set: true, env: "8g", size: "8g"},
		{want: true, set: true, env: " 512M ", size: "512m"},
		{want: true, set: true, env: "65536", size: "65536"},
		{want: true, set: true, env: "lots", bad: true},
		{want: true, set: true, env: "2gb", bad: true},
		{want: true, set: true, env: "-1g", bad: true},
		{want: true, set: true, env: "1g,mode=777", bad: true},
		// A server that did not ask for a tmpfs gets none, whatever the
		// environment says.
		{want: false, size: ""},
		{want: false, set: true, env: "8g", size: ""},
		{want: false, set: true, env: "lots", size: ""},
	} {
		t.Run(fmt.Sprintf("%v/%v/%q", tc.want, tc.set, tc.env), func(t *testing.T) {
			size, err := tmpfsSize(tc.want, tc.env, tc.set)
			if tc.bad {
				require.Error(t, err)
				assert.Contains(t, err.Error(), EnvTmpfs)
				assert.Contains(t, err.Error(), "0 to keep")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.size, size)
		})
	}
}

func TestOnTmpfs(t *testing.T) {
	hc := &container.HostConfig{}
	bindLoopback("12345")(hc)
	onTmpfs("2g")(hc)
	assert.Equal(t, map[string]string{"/data": "rw,size=2g"}, hc.Tmpfs)
	assert.Len(t, hc.PortBindings, 1, "the port binding stays")
}

// fatalTB is a testing.TB whose Fatal and Fatalf record the message and
// end the goroutine, as the real ones do; run the code under test with
// fatalTB.run.
type fatalTB struct {
	testing.TB
	fatals []string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	f.fatals = append(f.fatals, fmt.Sprint(args...))
	runtime.Goexit()
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// run calls fn in a goroutine of its own, so that Fatal can end it, and
// waits for it.
func (f *fatalTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// TestStopRefusedOnTmpfs checks that Stop of a server whose data is on a
// tmpfs fails the test, saying why, before it touches the container.
func TestStopRefusedOnTmpfs(t *testing.T) {
	f := &fatalTB{TB: t}
	srv := &Server{tmpfs: "4g"} // no container: Stop must not get that far
	f.run(func() { srv.Stop(f) })
	require.Len(t, f.fatals, 1)
	assert.Contains(t, f.fatals[0], "tmpfs")
	assert.Contains(t, f.fatals[0], "StartFresh without Options.Tmpfs")

	assert.NoError(t, (&Server{}).stoppable(), "a server on disk can be stopped")
}

// TestClusterRefusesTmpfs checks that a cluster is never put on a tmpfs,
// which would wipe a stopped node's drive.
func TestClusterRefusesTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("StartClusterWith skips in -short mode before it looks at the options")
	}
	f := &fatalTB{TB: t}
	f.run(func() { StartClusterWith(f, 4, &Options{Tmpfs: true}) })
	require.Len(t, f.fatals, 1)
	assert.Contains(t, f.fatals[0], "Options.Tmpfs is not for clusters")
}

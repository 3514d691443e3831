package fgtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a real redis-server started for one test on a free
// loopback port, with its files in t.TempDir() and persistence off. It is
// stopped (by its PID) at the test's cleanup. Kill and Restart let a test
// take it away mid-run and bring it back on the same address.
type RedisServer struct {
	Addr string // 127.0.0.1:port
	t    testing.TB
	dir  string
	port int
	args []string // extra redis-server arguments

	mu  sync.Mutex
	cmd *exec.Cmd
}

// RedisPath returns the path of redis-server. Without one the test is
// skipped, except under CI=true, where it fails (.ci/run installs it).
func RedisPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("redis-server is needed for the cluster tests (apt-get install redis-server)")
	}
	t.Skip("redis-server not installed")
	return ""
}

// StartRedis starts a redis-server and waits until it answers PING.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	return startRedis(t)
}

func startRedis(t testing.TB, args ...string) *RedisServer {
	t.Helper()
	RedisPath(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &RedisServer{t: t, dir: t.TempDir(), port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), args: args}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *RedisServer) start() {
	s.t.Helper()
	cmd := exec.Command(RedisPath(s.t), "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
		"--enable-debug-command", "local", "--loglevel", "warning")
	cmd.Args = append(cmd.Args, s.args...)
	// A test binary that panics runs no cleanup: the kernel ends the
	// server with it rather than leave it running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Do("PING"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatalf("redis-server on %s did not answer PING within 10s", s.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// PID returns the running server's process id (0 after Kill).
func (s *RedisServer) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill ends the server with SIGKILL by its PID (never by name) and waits
// for it; a no-op when it is not running.
func (s *RedisServer) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// Restart starts the server again on the same address (empty: persistence
// is off, as after losing a Redis without replicas).
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Do sends one command over a fresh connection and returns the first line
// of the reply (errors as "-ERR ..." lines are returned as errors). It is
// for test setup (FLUSHALL, DEBUG SLEEP), not for checking state.
func (s *RedisServer) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return "", fmt.Errorf("redis: %s", line[1:])
	}
	return line, nil
}

// StartRedisCluster starts n (>= 3) redis-servers in cluster mode, joins
// them into one Redis Cluster with redis-cli (no replicas) and waits until
// every node reports cluster_state:ok. It returns the nodes.
func StartRedisCluster(t testing.TB, n int) []*RedisServer {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-cli is needed for the Redis Cluster test (apt-get install redis-tools)")
		}
		t.Skip("redis-cli not installed")
	}
	nodes := make([]*RedisServer, n)
	create := []string{"--cluster", "create"}
	for i := range nodes {
		nodes[i] = startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
		create = append(create, nodes[i].Addr)
	}
	out, err := exec.Command(cli, append(create, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range nodes {
		for {
			info, err := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "cluster", "info").Output()
			if err == nil && strings.Contains(string(info), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Redis Cluster not ok within 20s: %s", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server on a free loopback port, in a temp dir.
type Postgres struct {
	Port int
	bin  string
	dir  string
	cred *syscall.Credential
	proc *Process
}

var (
	sharedPG     *Postgres
	sharedPGErr  error
	sharedPGOnce sync.Once
	dbSeq        atomic.Int64
)

// SharedPostgres returns a server shared by the tests of this binary.
func SharedPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	sharedPGOnce.Do(func() {
		sharedPG, sharedPGErr = startPostgres(tb)
		if sharedPGErr == nil {
			atExit(sharedPG.Stop)
		}
	})
	Need(tb, "postgresql", sharedPGErr)
	return sharedPG
}

// NewPostgres returns a server of the test's own, which it may stop and start.
func NewPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := startPostgres(tb)
	Need(tb, "postgresql", err)
	tb.Cleanup(p.Stop)
	return p
}

// URL is the URL of database name on this server.
func (p *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// NewDatabase creates an empty database for one test and returns its URL.
func (p *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("kurz_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database: %v", err)
	}
	return p.URL(name)
}

func startPostgres(tb testing.TB) (*Postgres, error) {
	bin, err := lookPath("PG_BIN", "", "/usr/lib/postgresql/*/bin")
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(bin, "initdb")); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("initdb not found in %s", bin)
	}
	dir, err := TempDir("pg")
	if err != nil {
		return nil, err
	}
	p := &Postgres{bin: bin, dir: dir, Port: FreePort(tb)}
	if os.Geteuid() == 0 { // Postgres refuses to run as root
		if p.cred, err = postgresUser(); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return p, p.Start()
}

// Start (re)starts the server on its port and waits until it accepts queries.
func (p *Postgres) Start() error {
	args := []string{"-D", filepath.Join(p.dir, "data"), "-p", itoa(p.Port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200"}
	proc, err := Start(filepath.Join(p.bin, "postgres"), args, filepath.Join(p.dir, "postgres.log"), p.cred)
	if err != nil {
		return err
	}
	p.proc = proc
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if time.Now().After(deadline) || proc.Exited() {
			return fmt.Errorf("postgres did not start: %v\n%s", err, proc.Tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down fast (SIGINT); Start brings it back with its data.
func (p *Postgres) Stop() { p.proc.Stop(syscall.SIGINT) }

func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Postgres is a PostgreSQL server on a loopback port, its data in Dir/data.
type Postgres struct {
	Place
	Port    int
	Dir     string
	Durable bool      // fsync on; tests turn it off for speed
	Primary *Postgres // a streaming replica of it, made with pg_basebackup -R
	// ApplyDelay holds a replica's changes back this long (recovery_min_apply_delay): a lagging replica.
	ApplyDelay time.Duration
	bin        string
	cred       *syscall.Credential
	proc       *Process
}

// URL is the URL of database name as the superuser postgres (trust auth on loopback).
func (p *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable", p.host(), p.Port, name)
}

// Start initializes the data directory when new, starts the server and waits for it.
func (p *Postgres) Start() error {
	if p.bin == "" {
		bin, err := LookPath("PG_BIN", "", "/usr/lib/postgresql/*/bin")
		if err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
			return fmt.Errorf("initdb not found in %s", bin)
		}
		p.bin = bin
		if err := p.prepare(); err != nil {
			return err
		}
	}
	args := []string{"-D", filepath.Join(p.Dir, "data"), "-p", strconv.Itoa(p.Port), "-k", p.Dir,
		"-c", "listen_addresses=" + p.host(), "-c", "max_connections=200"}
	if !p.Durable {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	}
	proc, err := StartProcess(filepath.Join(p.bin, "postgres"), args, filepath.Join(p.Dir, "postgres.log"), ProcessOptions{Cred: p.cred, Prefix: p.Prefix})
	if err != nil {
		return err
	}
	p.proc = proc
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := p.connect(ctx, "postgres")
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

// prepare runs initdb once; as root, the data belongs to the postgres user.
func (p *Postgres) prepare() error {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(p.Dir, uid, gid); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "data", "PG_VERSION")); err == nil {
		return nil
	}
	if p.Primary != nil { // initdb's trust rules allow replication from loopback (and trustNetwork's)
		args := []string{"-h", p.Primary.host(), "-p", strconv.Itoa(p.Primary.Port),
			"-U", "postgres", "-D", filepath.Join(p.Dir, "data"), "-R", "-X", "stream", "-c", "fast"}
		backup := exec.Command(filepath.Join(p.bin, "pg_basebackup"), args...)
		backup.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		if len(p.Prefix) > 0 { // from the replica's own host; the prefix needs root
			cmd := append(append([]string(nil), p.Prefix...), filepath.Join(p.bin, "pg_basebackup"))
			if p.cred != nil {
				cmd = append(append(append([]string(nil), p.Prefix...), "setpriv", "--reuid="+strconv.Itoa(int(p.cred.Uid)),
					"--regid="+strconv.Itoa(int(p.cred.Gid)), "--clear-groups"), filepath.Join(p.bin, "pg_basebackup"))
			}
			backup = exec.Command(cmd[0], append(cmd[1:], args...)...)
		}
		if out, err := backup.CombinedOutput(); err != nil {
			return fmt.Errorf("pg_basebackup: %v\n%s", err, out)
		}
		return p.configureReplica()
	}
	initdb := exec.Command(filepath.Join(p.bin, "initdb"), "-D", filepath.Join(p.Dir, "data"),
		"-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale", "C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return p.trustNetwork()
}

// trustNetwork lets the hosts of a test's own network in, as initdb's
// rules let in loopback; nothing when the server is on loopback.
func (p *Postgres) trustNetwork() error {
	if p.Host == "" {
		return nil
	}
	hba := filepath.Join(p.Dir, "data", "pg_hba.conf")
	f, err := os.OpenFile(hba, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "host all all %s/24 trust\nhost replication all %s/24 trust\n", p.Host, p.Host)
	return err
}

// configureReplica applies ApplyDelay to a replica made by pg_basebackup.
func (p *Postgres) configureReplica() error {
	if p.ApplyDelay == 0 {
		return nil
	}
	conf := filepath.Join(p.Dir, "data", "postgresql.auto.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "recovery_min_apply_delay = '%dms'\n", p.ApplyDelay.Milliseconds())
	return err
}

// connect opens a connection to database name from this process.
func (p *Postgres) connect(ctx context.Context, name string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(p.URL(name))
	if err != nil {
		return nil, err
	}
	cfg.DialFunc = pgconn.DialFunc(p.dial())
	return pgx.ConnectConfig(ctx, cfg)
}

// CreateDatabase creates database name unless it exists.
func (p *Postgres) CreateDatabase(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := p.connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}

// Stop shuts the server down fast (SIGINT); Start brings it back with its data.
func (p *Postgres) Stop() { p.proc.Stop(syscall.SIGINT) }

// Signal sends sig to the server and its backends, e.g. SIGSTOP to stall it.
func (p *Postgres) Signal(sig syscall.Signal) error { return p.proc.SignalGroup(sig) }

package plugin

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"time"
)

// errNotMaster means the address Sentinel named is not (or no longer) the master.
var errNotMaster = errors.New("kurz: redis node is not the master")

// masterAddr is the address to dial for writes: redisAddress, or the master
// that the first answering Sentinel names, in turn, each with a short timeout.
func masterAddr(o redisOptions) (string, error) {
	if len(o.sentinels) == 0 {
		return o.addr, nil
	}
	var last error
	for _, s := range o.sentinels {
		addr, err := askSentinel(s, o)
		if err == nil {
			return addr, nil
		}
		last = err
	}
	return "", errors.New("kurz: no sentinel named a master for " + o.masterName + ": " + last.Error())
}

// askSentinel asks one Sentinel for the master's address.
func askSentinel(sentinel string, o redisOptions) (string, error) {
	conn, err := net.DialTimeout("tcp", sentinel, o.dialTimeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if err := handshake(conn, r, o.sentinelOptions(), false); err != nil {
		return "", err
	}
	conn.SetDeadline(time.Now().Add(o.dialTimeout + o.readTimeout))
	if _, err := conn.Write(appendCommand(nil, "SENTINEL", "get-master-addr-by-name", o.masterName)); err != nil {
		return "", err
	}
	reply, err := readArray(r)
	if err != nil {
		return "", err
	}
	if len(reply) != 2 || reply[0] == "" {
		return "", errors.New("kurz: sentinel " + sentinel + " knows no master " + o.masterName)
	}
	return net.JoinHostPort(reply[0], reply[1]), nil
}

// confirmMaster asks a freshly dialled node for its ROLE: Sentinel may name
// a master that has just been demoted.
func confirmMaster(conn net.Conn, r *bufio.Reader, o redisOptions) error {
	conn.SetDeadline(time.Now().Add(o.dialTimeout + o.readTimeout))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(appendCommand(nil, "ROLE")); err != nil {
		return err
	}
	role, err := readFirstOfArray(r)
	if err != nil {
		return err
	}
	if role != "master" {
		return errNotMaster
	}
	return nil
}

// readFirstOfArray reads an array reply and returns its first element, a
// string; the rest (ROLE lists replicas in nested arrays) is read and dropped.
func readFirstOfArray(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	if len(line) < 4 || line[0] != '*' || line[len(line)-2] != '\r' {
		return "", errProtocol
	}
	n, ok := parseLength(line[1 : len(line)-2])
	if !ok || n < 1 || n > maxArrayLength {
		return "", errProtocol
	}
	first := ""
	for i := 0; i < n; i++ {
		next, err := r.ReadSlice('\n')
		if err != nil {
			return "", err
		}
		c := &call{}
		if err := parseReply(r, next, c, 1); err != nil {
			return "", err
		}
		if i == 0 {
			first = c.val
		}
	}
	return first, nil
}

// watchSentinels follows +switch-master for the life of the process: the
// client drops its connection at once, and the next command dials the new
// master. Lost Sentinel connections are made again with the next Sentinel.
func (c *redisClient) watchSentinels() {
	o := c.options()
	for i := 0; ; i++ {
		c.followSwitches(o.sentinels[i%len(o.sentinels)], o)
		time.Sleep(maxResubscribeWait)
	}
}

func (c *redisClient) followSwitches(sentinel string, o redisOptions) {
	conn, err := net.DialTimeout("tcp", sentinel, o.dialTimeout)
	if err != nil {
		return
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if err := handshake(conn, r, o.sentinelOptions(), false); err != nil {
		return
	}
	if _, err := conn.Write(appendCommand(nil, "SUBSCRIBE", "+switch-master")); err != nil {
		return
	}
	for {
		msg, err := readArray(r)
		if err != nil {
			return
		}
		// +switch-master carries "<name> <old ip> <old port> <new ip> <new port>".
		if len(msg) == 3 && msg[0] == "message" && strings.HasPrefix(msg[2], o.masterName+" ") {
			logger.Printf("sentinel %s: master %s switched: %s", sentinel, o.masterName, msg[2])
			c.reset()
			if c.follower != nil {
				c.follower.reset()
			}
		}
	}
}

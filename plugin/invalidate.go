package plugin

import (
	"errors"
	"strconv"
	"time"

	"github.com/kurzlink/kurz/link"
)

// errMasterMoved ends a subscription made to another master than the data connection's.
var errMasterMoved = errors.New("kurz: the subscription reached another master than the data connection; subscribing again")

// maxResubscribeWait bounds the wait between subscription attempts, so a hot
// cache is emptied well within a second of Redis coming back.
const maxResubscribeWait = 250 * time.Millisecond

// subscribe keeps a subscription to link.InvalidateChannel open and drops
// each announced code from the hot cache, so a changed or deleted link stops
// being served at once, and lists new aliases in the code space; it runs for
// the life of the process.
// It logs when the subscription is lost or cannot be made, once until it is back.
func (e *edge) subscribe() {
	quiet := false
	wait := 10 * time.Millisecond
	for {
		subscribed, err := e.subscribeOnce()
		if subscribed {
			quiet = false
			wait = 10 * time.Millisecond
		}
		if !quiet {
			logger.Printf("invalidation subscription: %v; hot-cache entries live at most their TTL until it is back", err)
			quiet = true
		}
		time.Sleep(wait)
		if wait *= 2; wait > maxResubscribeWait {
			wait = maxResubscribeWait
		}
	}
}

// subscribeOnce subscribes and drops announced codes until the connection fails.
func (e *edge) subscribeOnce() (subscribed bool, err error) {
	o := e.redis.options()
	conn, r, err := dialMaster(o, 4096, false)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if !e.redis.watchSubscription(conn) {
		return false, errMasterMoved
	}
	defer e.redis.forgetSubscription(conn)
	if _, err := conn.Write(appendCommand(nil, "SUBSCRIBE", link.InvalidateChannel)); err != nil {
		return false, err
	}
	conn.SetReadDeadline(time.Now().Add(o.dialTimeout + o.readTimeout))
	if _, err := readArray(r); err != nil { // the subscribe confirmation
		return false, err
	}
	conn.SetReadDeadline(time.Time{})
	e.hot.clear() // whatever changed while unsubscribed
	if e.space != nil {
		e.space.subscription(true)
		defer e.space.subscription(false)
	}
	e.mu.Lock()
	e.stats.subscriptions++
	e.mu.Unlock()
	for {
		msg, err := readArray(r)
		if err != nil {
			return true, err
		}
		if len(msg) == 3 && msg[0] == "message" {
			e.hot.drop(msg[2])
			if e.space != nil && e.space.announced(msg[2]) {
				// The create waits for every edge's count: until then it does not answer.
				key := link.AnnouncedKey(msg[2])
				e.redis.doAll([][]string{{"INCR", key}, {"PEXPIRE", key, announcedTTL}})
			}
		}
	}
}

var announcedTTL = strconv.FormatInt(link.AnnouncedTTL.Milliseconds(), 10)

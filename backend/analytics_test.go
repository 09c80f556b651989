package backend_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kurzlink/kurz/backend"
	"github.com/kurzlink/kurz/link"
)

type fixedGeo map[string]string

func (g fixedGeo) Country(a netip.Addr) string { return g[a.String()] }

func TestClassify(t *testing.T) {
	c := &backend.Classifier{Geo: fixedGeo{"203.0.113.9": "DE"}}
	for _, tc := range []struct {
		name, ua string
		bot      bool
		device   string
		browser  string
		os       string
	}{
		{"ChromeDesktop", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", false, "desktop", "Chrome", "Windows"},
		{"SafariIPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", false, "mobile", "Safari", "iOS"},
		{"SafariIPad", "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", false, "tablet", "Safari", "iPadOS"},
		{"ChromeAndroid", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36", false, "mobile", "Chrome", "Android"},
		{"FirefoxLinux", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", false, "desktop", "Firefox", "Linux"},
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", true, "bot", "Googlebot", "unknown"},
		{"Slack", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", true, "bot", "Slackbot-LinkExpanding", "unknown"},
		{"Discord", "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", true, "bot", "", ""},
		{"WhatsApp", "WhatsApp/2.23.20.0", true, "bot", "", ""},
		{"Telegram", "TelegramBot (like TwitterBot)", true, "bot", "", ""},
		{"X", "Twitterbot/1.0", true, "bot", "", ""},
		{"Facebook", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", true, "bot", "", ""},
		{"LinkedIn", "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", true, "bot", "", ""},
		{"SafariMac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", false, "desktop", "Safari", "macOS"},
		{"IMessage", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0", true, "bot", "", ""},
		{"Curl", "curl/8.5.0", true, "bot", "", ""},
		{"NoUserAgent", "", true, "bot", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Classify(link.Visit{Code: "abcdefg", At: time.Now(), Addr: "203.0.113.9", UserAgent: tc.ua})
			if got.Bot != tc.bot || got.Device != tc.device || (tc.browser != "" && got.Browser != tc.browser) || (tc.os != "" && got.OS != tc.os) {
				t.Errorf("Classify(%q) = %+v, want bot %v device %s browser %s os %s", tc.ua, got, tc.bot, tc.device, tc.browser, tc.os)
			}
			if got.Country != "DE" {
				t.Errorf("country = %q, want DE", got.Country)
			}
		})
	}
	t.Run("Referrer", func(t *testing.T) {
		for _, tc := range []struct {
			full      bool
			ref, want string
		}{
			{false, "", "direct"},
			{false, "https://News.Example.com:8443/a?b=c#d", "news.example.com"},
			{false, "not a url", "unknown"},
			{true, "https://user:pw@news.example.com/a?b=c#d", "https://news.example.com/a?b=c"},
		} {
			c := &backend.Classifier{FullReferrer: tc.full}
			if got := c.Classify(link.Visit{Referrer: tc.ref}).Referrer; got != tc.want {
				t.Errorf("referrer %q (full %v) = %q, want %q", tc.ref, tc.full, got, tc.want)
			}
		}
	})
	t.Run("UnknownCountry", func(t *testing.T) {
		for _, addr := range []string{"198.51.100.1", "", "not-an-ip"} {
			if got := c.Classify(link.Visit{Addr: addr}).Country; got != "unknown" {
				t.Errorf("country of %q = %q, want unknown", addr, got)
			}
		}
		if got := (&backend.Classifier{}).Classify(link.Visit{Addr: "203.0.113.9"}).Country; got != "unknown" {
			t.Errorf("country without a database = %q, want unknown", got)
		}
	})
}

func TestStatsQueryValidate(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	t.Run("OK", func(t *testing.T) {
		q := backend.StatsQuery{}
		if err := q.Validate(now); err != nil {
			t.Fatal(err)
		}
		if got, want := q.To, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("to = %v, want %v (today included)", got, want)
		}
		if got, want := q.To.Sub(q.From), 8*24*time.Hour; got != want {
			t.Errorf("range = %v, want %v", got, want)
		}
	})
	t.Run("ErrTooManyBuckets", func(t *testing.T) {
		q := backend.StatsQuery{Interval: time.Hour, From: now.AddDate(-2, 0, 0), To: now}
		if err := q.Validate(now); backend.ErrorCode(err) != backend.EINVALID {
			t.Errorf("two years by hour: %v, want invalid", err)
		}
	})
	t.Run("ErrBackwards", func(t *testing.T) {
		q := backend.StatsQuery{From: now, To: now.AddDate(0, 0, -3)}
		if err := q.Validate(now); backend.ErrorCode(err) != backend.EINVALID {
			t.Errorf("from after to: %v, want invalid", err)
		}
	})
}

// Whatever a stream entry holds, reading and classifying it never panics: a
// panic would stop the folder of every replica that reads the entry.
func FuzzClassifyPacked(f *testing.F) {
	f.Add("abcdefg\t1700000000\t8.8.8.8\thttps://t.co/x\tMozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)\n")
	f.Add("abcdefg\t1700000000\t::1\t\t\n")
	f.Add("\t\t\t\t\n\n")
	f.Add("abcdefg\t-1\t\t%zz\tcurl\n")
	c := &backend.Classifier{Geo: fixedGeo{}}
	f.Fuzz(func(t *testing.T, packed string) {
		link.ParseVisits(packed, func(v link.Visit) { c.Classify(v) })
	})
}

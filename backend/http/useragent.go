package http

import "strings"

// Without full user agents the visit log keeps a visit's browser and system
// only; Shlink's clients read both back from a user agent (with bowser), so
// a typical one of that browser on that system stands in for it.

// platforms are the system tokens of a user agent, by the log's system names.
var platforms = map[string]string{
	"Windows":  "Windows NT 10.0; Win64; x64",
	"macOS":    "Macintosh; Intel Mac OS X 10_15_7",
	"Linux":    "X11; Linux x86_64",
	"Android":  "Linux; Android 14; K",
	"iOS":      "iPhone; CPU iPhone OS 17_4 like Mac OS X",
	"ChromeOS": "X11; CrOS x86_64 14541.0.0",
}

// typicalUserAgent is a user agent that bowser reads as browser on system;
// a bot's names its kind; "" when the browser is not one of those known.
func typicalUserAgent(browser, system string, bot bool) string {
	if bot {
		return "Mozilla/5.0 (compatible; bot; +https://kurz.link/bots)"
	}
	p, ok := platforms[system]
	if !ok {
		p = platforms["Linux"]
	}
	mobile := ""
	if system == "Android" || system == "iOS" {
		mobile = "Mobile "
	}
	chrome := "Mozilla/5.0 (" + p + ") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 " + mobile + "Safari/537.36"
	switch strings.ToLower(browser) {
	case "chrome", "chromium":
		return chrome
	case "edge", "microsoft edge":
		return chrome + " Edg/124.0.0.0"
	case "opera":
		return chrome + " OPR/109.0.0.0"
	case "vivaldi":
		return chrome + " Vivaldi/6.6.3271.61"
	case "samsung browser", "samsung internet":
		return "Mozilla/5.0 (" + platforms["Android"] + ") AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36"
	case "firefox":
		return "Mozilla/5.0 (" + p + "; rv:125.0) Gecko/20100101 Firefox/125.0"
	case "safari":
		if system == "iOS" {
			return "Mozilla/5.0 (" + p + ") AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
		}
		return "Mozilla/5.0 (" + platforms["macOS"] + ") AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
	case "internet explorer":
		return "Mozilla/5.0 (" + platforms["Windows"] + "; Trident/7.0; rv:11.0) like Gecko"
	}
	return ""
}

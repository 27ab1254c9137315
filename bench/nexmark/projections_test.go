package nexmark

import (
	"regexp"
	"strings"
	"testing"
)

// The generated URLs exercise neither NULLs nor a channel_id that is not
// the URL's last parameter; these inputs do, against the SQL's own regular
// expression and split.
func TestChannelIDAndSplitIndexEdges(t *testing.T) {
	re := regexp.MustCompile(`(&|^)channel_id=([^&]*)`)
	for _, url := range []string{
		"", "channel_id=7", "channel_id=", "x=1&channel_id=8&y=2", "xchannel_id=9", "xchannel_id=9&channel_id=10",
		"a/b", "https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id=11", "//", "a//b/c/d/e",
	} {
		want, wantOK := "", false
		if m := re.FindStringSubmatch(url); m != nil {
			want, wantOK = m[2], true
		}
		if got, ok := ChannelID(Bid{Channel: "channel-1", URL: url}); got != want || ok != wantOK {
			t.Errorf("ChannelID(%q) = %q, %v; want %q, %v", url, got, ok, want, wantOK)
		}
		parts := strings.Split(url, "/")
		for i := range 7 {
			want, wantOK := "", i < len(parts)
			if wantOK {
				want = parts[i]
			}
			if got, ok := SplitIndex(url, "/", i); got != want || ok != wantOK {
				t.Errorf("SplitIndex(%q, %d) = %q, %v; want %q, %v", url, i, got, ok, want, wantOK)
			}
		}
	}
	if id, ok := ChannelID(Bid{Channel: "Apple", URL: "channel_id=5"}); id != "0" || !ok {
		t.Errorf("ChannelID of channel Apple = %q, %v; want \"0\", true", id, ok)
	}
}

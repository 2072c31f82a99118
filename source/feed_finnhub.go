package source

// Finnhub trade stream. Followed: Finnhub's "Trades - Last Price Updates"
// WebSocket documentation (finnhub.io/docs/api/websocket-trades, also
// published as an AsyncAPI document), and the maintainers' answers in
// finnhubio/Finnhub-API issues 465 and 517:
//
//   - URL wss://ws.finnhub.io?token=<key>; a bad key is refused during the
//     handshake with HTTP 401. One connection per key.
//   - subscribe: {"type":"subscribe","symbol":"AAPL"}, one message per
//     symbol, not acknowledged. Symbols: US stocks (AAPL), crypto and forex
//     as EXCHANGE:PAIR (BINANCE:BTCUSDT, OANDA:EUR_USD).
//   - trades: {"type":"trade","data":[{"s":"AAPL","p":7296.89,
//     "t":1575526691134,"v":0.011467,"c":["1","12"]}]}: p price, v volume,
//     t Unix milliseconds, c condition codes; venues without trades send
//     price updates with v = 0.
//   - heartbeat: {"type":"ping"} from the server, no answer needed.
//   - errors: {"type":"error","msg":"..."}.
//
// Finnhub gives trades no id. The trade id is made from the trade itself,
// "<t>:<p>:<v>:<k>", where k counts identical (t, p, v) trades of the
// symbol earlier in the same frame; a trade the server sends again after a
// reconnect gets the same id and is dropped. Two identical trades in the
// same millisecond that arrive in different frames look like a repeat too.
//
// Key: FINNHUB_API_KEY.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/stocklake/stocklake"
)

var finnhubSpec = feedSpec{
	endpoint: "wss://ws.finnhub.io",
	keyEnv:   "FINNHUB_API_KEY",
	symbols: func(in []string) ([]string, error) {
		return feedSymbolList(in, func(s string) string { return s })
	},
	newProto: func(f *Feed) feedProtocol { return &finnhubProto{f: f} },
}

type finnhubProto struct {
	f *Feed
}

type finnhubMsg struct {
	Type string            `json:"type"`
	Msg  string            `json:"msg"`
	Data []json.RawMessage `json:"data"`
}

type finnhubTrade struct {
	Symbol string      `json:"s"`
	Price  json.Number `json:"p"`
	Time   int64       `json:"t"`
	Volume json.Number `json:"v"`
	Conds  []string    `json:"c"`
}

func (p *finnhubProto) dialURL() (string, error) {
	u, err := url.Parse(p.f.cfg.Endpoint)
	if err != nil {
		return "", fmt.Errorf("finnhub endpoint: %w: %w", err, stocklake.ErrConfig)
	}
	q := u.Query()
	q.Set("token", p.f.cfg.Key)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// open subscribes right away: Finnhub neither greets nor acknowledges, so
// the subscription counts as done once sent.
func (p *finnhubProto) open(s *feedSession) error {
	for _, sym := range p.f.cfg.Symbols {
		if err := s.send(map[string]string{"type": "subscribe", "symbol": sym}); err != nil {
			return err
		}
	}
	s.setSubscribed()
	return nil
}

func (p *finnhubProto) frame(s *feedSession, b []byte) error {
	var m finnhubMsg
	if err := json.Unmarshal(b, &m); err != nil {
		s.malformed("not a JSON object: "+err.Error(), b)
		return nil
	}
	switch m.Type {
	case "ping":
		s.heartbeat()
		return nil
	case "error":
		s.serverError(0, m.Msg)
		return nil
	case "trade":
	default:
		return nil // news and press releases: not subscribed, ignored
	}
	type sameTrade struct{ sym, t, p, v string }
	var occurrences map[sameTrade]int
	for _, raw := range m.Data {
		var tr finnhubTrade
		if err := json.Unmarshal(raw, &tr); err != nil {
			s.malformed("bad trade: "+err.Error(), raw)
			continue
		}
		price, vol, ok := s.priceSize(raw, tr.Price.String(), tr.Volume.String(), "volume")
		if !ok {
			continue
		}
		if tr.Time <= 0 {
			s.malformed("no timestamp t", raw)
			continue
		}
		ms := fmt.Sprint(tr.Time)
		if occurrences == nil {
			occurrences = make(map[sameTrade]int)
		}
		same := sameTrade{tr.Symbol, ms, tr.Price.String(), tr.Volume.String()}
		k := occurrences[same]
		occurrences[same] = k + 1
		id := strings.Join([]string{ms, same.p, same.v, fmt.Sprint(k)}, ":")
		t := stocklake.Tick{
			Symbol:     tr.Symbol,
			Time:       feedEpoch(tr.Time),
			Price:      price,
			Size:       vol,
			TradeID:    id,
			Conditions: tr.Conds,
		}
		if err := s.trade(&t, id, -1, raw); err != nil {
			return err
		}
	}
	return nil
}

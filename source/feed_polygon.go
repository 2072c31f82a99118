package source

// Polygon.io stocks stream (Polygon is now called Massive; the protocol is
// unchanged). Followed: "WebSocket > Stocks > Trades"
// (massive.com/docs/websocket/stocks/trades, formerly
// polygon.io/docs/stocks/ws_stocks_t), the WebSocket quickstart, and the
// official Go client (polygon-io/client-go, websocket/polygon.go and
// websocket/models/models.go):
//
//   - URL wss://socket.polygon.io/stocks (real time; delayed.polygon.io
//     for 15-minute delayed plans; socket.massive.com/stocks is the same).
//   - every server message is a JSON array of objects tagged by "ev".
//   - on connect: [{"ev":"status","status":"connected",...}]; the client
//     sends {"action":"auth","params":"<key>"} and gets status
//     "auth_success" or "auth_failed"; only then may it subscribe with
//     {"action":"subscribe","params":"T.AAPL,T.MSFT"}, acknowledged per
//     channel by status "success", message "subscribed to: T.AAPL".
//   - status "max_connections" when the account's one connection per
//     cluster is already in use; status "error" for other failures.
//   - trade: {"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,
//     "s":100,"c":[0,12],"t":1536036818784,"q":3681328}: x is Polygon's
//     exchange id, i the trade id (unique per ticker, exchange and TRF
//     only), c condition ids, t the SIP timestamp in Unix milliseconds (the
//     REST API gives nanoseconds; both are accepted), q the sequence
//     number, increasing and unique per ticker but not consecutive, so it
//     cannot reveal gaps but does identify repeats. trfi and trft give the
//     trade reporting facility and its timestamp for off-exchange trades.
//
// Key: POLYGON_API_KEY.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/stocklake/stocklake"
)

var polygonSpec = feedSpec{
	endpoint: "wss://socket.polygon.io/stocks",
	keyEnv:   "POLYGON_API_KEY",
	symbols: func(in []string) ([]string, error) {
		return feedSymbolList(in, strings.ToUpper)
	},
	newProto: func(f *Feed) feedProtocol { return &polygonProto{f: f} },
}

type polygonProto struct {
	f       *Feed
	pending map[string]bool // channels sent but not yet acknowledged
}

type polygonMsg struct {
	Ev      string      `json:"ev"`
	Status  string      `json:"status"`
	Message string      `json:"message"`
	Sym     string      `json:"sym"`
	Exch    json.Number `json:"x"`
	ID      string      `json:"i"`
	Price   json.Number `json:"p"`
	Size    json.Number `json:"s"`
	Conds   []int       `json:"c"`
	Time    int64       `json:"t"`
	Seq     json.Number `json:"q"`
	TRF     json.Number `json:"trfi"`
}

func (p *polygonProto) dialURL() (string, error) { return p.f.cfg.Endpoint, nil }

// open waits for the "connected" status before authenticating.
func (p *polygonProto) open(*feedSession) error {
	p.pending = nil
	return nil
}

func (p *polygonProto) frame(s *feedSession, b []byte) error {
	var msgs []json.RawMessage
	if err := json.Unmarshal(b, &msgs); err != nil {
		s.malformed("not a JSON array: "+err.Error(), b)
		return nil
	}
	for _, raw := range msgs {
		var head struct {
			Ev string `json:"ev"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			s.malformed("bad message: "+err.Error(), raw)
			continue
		}
		if head.Ev != "status" && head.Ev != "T" {
			continue // quotes, aggregates: not subscribed, ignored
		}
		var m polygonMsg
		if err := json.Unmarshal(raw, &m); err != nil {
			s.malformed("bad message: "+err.Error(), raw)
			continue
		}
		var err error
		if m.Ev == "status" {
			err = p.status(s, &m)
		} else {
			err = p.trade(s, &m, raw)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *polygonProto) status(s *feedSession, m *polygonMsg) error {
	switch m.Status {
	case "connected":
		return s.send(map[string]string{"action": "auth", "params": p.f.cfg.Key})
	case "auth_success":
		chans := make([]string, len(p.f.cfg.Symbols))
		p.pending = make(map[string]bool, len(chans))
		for i, sym := range p.f.cfg.Symbols {
			chans[i] = "T." + sym
			p.pending[chans[i]] = true
		}
		return s.send(map[string]string{"action": "subscribe", "params": strings.Join(chans, ",")})
	case "auth_failed":
		s.serverError(0, m.Message)
		return p.f.authError(fmt.Sprintf("auth_failed: %s", m.Message))
	case "max_connections":
		s.serverError(0, m.Message)
		return &feedError{err: fmt.Errorf("polygon: max_connections: %s; retrying", m.Message)}
	case "success":
		if rest, ok := strings.CutPrefix(m.Message, "subscribed to:"); ok && p.pending != nil {
			for _, ch := range strings.Split(rest, ",") {
				delete(p.pending, strings.TrimSpace(ch))
			}
			if len(p.pending) == 0 {
				s.setSubscribed()
			}
		}
	case "error":
		s.serverError(0, m.Message)
		if !s.subscribed.Load() && p.pending != nil {
			return fatalf("polygon refused the subscription: %s: check the symbols and that the plan of POLYGON_API_KEY includes trades", m.Message)
		}
	default:
		p.f.log.Info("polygon status", "status", m.Status, "message", m.Message)
	}
	return nil
}

func (p *polygonProto) trade(s *feedSession, m *polygonMsg, raw []byte) error {
	price, size, ok := s.priceSize(raw, m.Price.String(), m.Size.String(), "size")
	if !ok {
		return nil
	}
	if m.Time <= 0 {
		s.malformed("no SIP timestamp t", raw)
		return nil
	}
	var conds []string
	if len(m.Conds) > 0 {
		conds = make([]string, len(m.Conds))
		for i, c := range m.Conds {
			conds[i] = strconv.Itoa(c)
		}
	}
	t := stocklake.Tick{
		Symbol:     m.Sym,
		Time:       feedEpoch(m.Time),
		Price:      price,
		Size:       size,
		Exchange:   m.Exch.String(),
		TradeID:    m.ID,
		Conditions: conds,
	}
	if t.TradeID == "" {
		t.TradeID = m.Seq.String()
	}
	// The sequence number is unique per ticker; without it, the trade id is
	// unique per ticker, exchange and reporting facility.
	key := "q" + m.Seq.String()
	if m.Seq == "" {
		key = m.Exch.String() + "/" + m.TRF.String() + "/" + m.ID
	}
	return s.trade(&t, key, -1, raw)
}

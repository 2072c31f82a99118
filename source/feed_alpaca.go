package source

// Alpaca market data v2 stock stream. Followed: Alpaca's "WebSocket
// Stream" (docs.alpaca.markets/docs/streaming-market-data, formerly
// alpaca.markets/docs/api-documentation/api-v2/market-data/alpaca-data-api-v2/real-time)
// and the error list of the official Go SDK (alpacahq/alpaca-trade-api-go,
// marketdata/stream/errors.go):
//
//   - URL wss://stream.data.alpaca.markets/v2/{feed}: iex (free plan), sip
//     (paid), test (always-on test stream with symbol FAKEPACA); sandbox
//     at stream.data.sandbox.alpaca.markets.
//   - every server message is a JSON array of objects tagged by "T".
//   - on connect: [{"T":"success","msg":"connected"}]; the client sends
//     {"action":"auth","key":...,"secret":...} and gets
//     [{"T":"success","msg":"authenticated"}] or an error.
//   - subscribe: {"action":"subscribe","trades":["AAPL"]}, acknowledged by
//     [{"T":"subscription","trades":["AAPL"],"quotes":[],"bars":[],...}].
//   - trade: {"T":"t","S":"AAPL","i":96921,"x":"D","p":126.55,"s":1,
//     "t":"2021-02-22T15:51:44.208Z","c":["@","I"],"z":"C"}: t is RFC 3339
//     with up to nanosecond precision, i the trade id (unique per exchange),
//     x the exchange code, c the condition codes, z the tape. Trade
//     subscribers also get corrections ("c") and cancels ("x").
//   - errors: [{"T":"error","code":402,"msg":"auth failed"}]; 400 invalid
//     syntax, 401 not authenticated, 402 auth failed, 403 already
//     authenticated, 404 auth timeout, 405 symbol limit exceeded, 406
//     connection limit exceeded (most plans allow one connection), 407 slow
//     client, 409 insufficient subscription, 410 invalid subscribe action
//     for this feed, 411 insufficient scope, 500 internal error.
//
// Keys: APCA_API_KEY_ID and APCA_API_SECRET_KEY, as in Alpaca's SDKs.

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
)

var alpacaSpec = feedSpec{
	endpoint:  "wss://stream.data.alpaca.markets/v2/iex",
	keyEnv:    "APCA_API_KEY_ID",
	secretEnv: "APCA_API_SECRET_KEY",
	symbols: func(in []string) ([]string, error) {
		return feedSymbolList(in, strings.ToUpper)
	},
	newProto: func(f *Feed) feedProtocol { return &alpacaProto{f: f} },
}

type alpacaProto struct {
	f *Feed
}

// alpacaMsg is any element of a server array. Keys that differ only in case
// ("T"/"t", "S"/"s") are all declared, so encoding/json matches each exactly.
type alpacaMsg struct {
	Type   string      `json:"T"`
	Msg    string      `json:"msg"`
	Code   int         `json:"code"`
	Symbol string      `json:"S"`
	ID     json.Number `json:"i"`
	Exch   string      `json:"x"`
	Price  json.Number `json:"p"`
	Size   json.Number `json:"s"`
	Time   string      `json:"t"`
	Conds  []string    `json:"c"`
	Tape   string      `json:"z"`
	Trades []string    `json:"trades"`
	// corrections ("c") and cancels ("x")
	OrigID    json.Number `json:"oi"`
	CorrID    json.Number `json:"ci"`
	Action    string      `json:"a"`
	OrigPrice json.Number `json:"op"`
	CorrPrice json.Number `json:"cp"`
}

func (p *alpacaProto) dialURL() (string, error) { return p.f.cfg.Endpoint, nil }

// open waits for the server's "connected" message before authenticating.
func (p *alpacaProto) open(*feedSession) error { return nil }

func (p *alpacaProto) frame(s *feedSession, b []byte) error {
	var msgs []json.RawMessage
	if err := json.Unmarshal(b, &msgs); err != nil {
		s.malformed("not a JSON array: "+err.Error(), b)
		return nil
	}
	for _, raw := range msgs {
		var head struct {
			Type string `json:"T"`
			Time any    `json:"t"` // declared so that "t" does not fold onto "T"
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			s.malformed("bad message: "+err.Error(), raw)
			continue
		}
		switch head.Type {
		case "success", "subscription", "error", "t", "c", "x":
		default:
			continue // quotes, bars, statuses: not subscribed, ignored
		}
		var m alpacaMsg
		if err := json.Unmarshal(raw, &m); err != nil {
			s.malformed("bad message: "+err.Error(), raw)
			continue
		}
		if err := p.message(s, &m, raw); err != nil {
			return err
		}
	}
	return nil
}

func (p *alpacaProto) message(s *feedSession, m *alpacaMsg, raw []byte) error {
	switch m.Type {
	case "success":
		switch m.Msg {
		case "connected":
			return s.send(map[string]string{"action": "auth", "key": p.f.cfg.Key, "secret": p.f.cfg.Secret})
		case "authenticated":
			return s.send(map[string]any{"action": "subscribe", "trades": p.f.cfg.Symbols})
		}
	case "subscription":
		got := make(map[string]bool, len(m.Trades))
		for _, t := range m.Trades {
			got[t] = true
		}
		var missing []string
		for _, sym := range p.f.cfg.Symbols {
			if !got[sym] && !got["*"] {
				missing = append(missing, sym)
			}
		}
		if len(missing) > 0 {
			p.f.log.Warn("alpaca did not subscribe some symbols", "symbols", strings.Join(missing, ","))
		}
		s.setSubscribed()
	case "error":
		return p.error(s, m)
	case "t":
		return p.trade(s, m, raw)
	case "c", "x":
		p.f.corrections.Add(1)
		p.f.log.Info("alpaca trade correction or cancel (not applied)", "type", m.Type, "symbol", m.Symbol,
			"original_id", m.OrigID, "corrected_id", m.CorrID, "action", m.Action)
		p.f.event(FeedEvent{Kind: FeedCorrection, Symbol: m.Symbol, TradeID: m.OrigID.String(), Message: string(raw)})
	}
	return nil
}

// error handles an error message: a bad key or plan ends the run, a
// connection limit or slow client is retried.
func (p *alpacaProto) error(s *feedSession, m *alpacaMsg) error {
	s.serverError(m.Code, m.Msg)
	detail := fmt.Sprintf("%d %s", m.Code, m.Msg)
	switch m.Code {
	case 402, 411:
		return p.f.authError(detail)
	case 409:
		return settingFatalf("source.FeedConfig.Endpoint", "alpaca: %s: the plan of this key does not include the feed at %s; use the endpoint ending in /v2/iex for the free plan", detail, p.f.cfg.Endpoint)
	case 405:
		return fatalf("alpaca: %s: subscribe to fewer symbols (the free plan allows 30)", detail)
	case 400, 401, 410:
		return fatalf("alpaca refused the request: %s", detail)
	case 403:
		return nil // already authenticated: harmless
	case 406:
		return &feedError{err: fmt.Errorf("alpaca: %s: another connection with this key is open (most plans allow one); retrying", detail)}
	}
	return &feedError{err: fmt.Errorf("alpaca: %s", detail)} // 404 auth timeout, 407 slow client, 500: reconnect
}

func (p *alpacaProto) trade(s *feedSession, m *alpacaMsg, raw []byte) error {
	ts, err := time.Parse(time.RFC3339Nano, m.Time)
	if err != nil {
		s.malformed(fmt.Sprintf("trade time %q is not RFC 3339", m.Time), raw)
		return nil
	}
	price, size, ok := s.priceSize(raw, m.Price.String(), m.Size.String(), "size")
	if !ok {
		return nil
	}
	t := stocklake.Tick{
		Symbol:     m.Symbol,
		Time:       time.UnixMicro(ts.UnixMicro()).UTC(),
		Price:      price,
		Size:       size,
		Exchange:   m.Exch,
		TradeID:    m.ID.String(),
		Conditions: m.Conds,
	}
	// Trade ids are assigned per exchange, so the exchange is part of the key.
	return s.trade(&t, m.Exch+"/"+t.TradeID, -1, raw)
}

package source

// Binance spot trade streams. Followed: "WebSocket Streams for Binance",
// binance/binance-spot-api-docs web-socket-streams.md (2023-12-04 and the
// current developers.binance.com page):
//
//   - base endpoint wss://stream.binance.com:9443; combined streams at
//     /stream, whose events arrive as {"stream":"<name>","data":<payload>};
//     stream names are lowercase, "<symbol>@trade" for raw trades.
//   - live subscription: {"method":"SUBSCRIBE","params":[...],"id":1},
//     answered by {"result":null,"id":1}; errors look like
//     {"code":2,"msg":"Invalid request: ..."} (older) or
//     {"error":{"code":2,"msg":"..."},"id":1}.
//   - trade payload: {"e":"trade","E":<event time ms>,"s":"BNBBTC",
//     "t":<trade id>,"p":"0.001","q":"100","T":<trade time ms>,"m":true,
//     "M":true}: price and quantity are decimal strings; trade ids are
//     sequential per symbol, so a jump is a gap.
//   - the server pings every 20 s (3 minutes in the 2023 text) and drops a
//     client that does not pong within a minute (10 minutes); the WebSocket
//     library answers pings with the same payload.
//   - a connection is valid for 24 hours; a "serverShutdown" event warns of
//     a shutdown, after which a new connection is due.
//   - limits: 5 incoming messages per second, 1024 streams per connection,
//     300 connections per 5 minutes per IP; HTTP 429 and 418 (IP ban) when
//     exceeded.
//
// No key is needed.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stocklake/stocklake"
)

// binanceMaxStreams is the documented limit of streams per connection.
const binanceMaxStreams = 1024

var binanceSpec = feedSpec{
	endpoint: "wss://stream.binance.com:9443/stream",
	maxAge:   24*time.Hour - 5*time.Minute, // reconnect just before the forced 24 h disconnect
	symbols: func(in []string) ([]string, error) {
		syms, err := feedSymbolList(in, strings.ToLower)
		if err != nil {
			return nil, err
		}
		if len(syms) > binanceMaxStreams {
			return nil, fmt.Errorf("%d symbols, but one Binance connection carries at most %d streams", len(syms), binanceMaxStreams)
		}
		for _, s := range syms {
			for _, c := range s {
				if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
					return nil, fmt.Errorf("symbol %q: Binance symbols are letters and digits, e.g. btcusdt", s)
				}
			}
		}
		return syms, nil
	},
	newProto: func(f *Feed) feedProtocol { return &binanceProto{f: f} },
}

type binanceProto struct {
	f *Feed
}

// binanceSubscribeID is the id of the SUBSCRIBE request on every connection.
const binanceSubscribeID = 1

func (p *binanceProto) dialURL() (string, error) { return p.f.cfg.Endpoint, nil }

func (p *binanceProto) open(s *feedSession) error {
	params := make([]string, len(p.f.cfg.Symbols))
	for i, sym := range p.f.cfg.Symbols {
		params[i] = sym + "@trade"
	}
	return s.send(struct {
		Method string   `json:"method"`
		Params []string `json:"params"`
		ID     int      `json:"id"`
	}{"SUBSCRIBE", params, binanceSubscribeID})
}

// binanceFrame is any message on a combined stream connection: an event,
// a request's result, or an error.
type binanceFrame struct {
	Stream string          `json:"stream"`
	Data   json.RawMessage `json:"data"`
	Result json.RawMessage `json:"result"`
	ID     json.RawMessage `json:"id"`
	Error  *binanceError   `json:"error"`
	Code   *int            `json:"code"`
	Msg    string          `json:"msg"`
	Event  string          `json:"e"` // a raw (unwrapped) event such as serverShutdown
	Time   json.RawMessage `json:"E"` // declared so that "E" does not fold onto "e"
}

type binanceError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// binanceTrade is a trade event. Its keys differ only in case ("e"/"E",
// "t"/"T", "m"/"M") and encoding/json matches keys case-insensitively when
// no field has the exact name, so every key this struct does not declare
// must also have no same-letter field: "m" and "M" are left out on purpose.
type binanceTrade struct {
	Event     string      `json:"e"`
	EventTime int64       `json:"E"`
	Symbol    string      `json:"s"`
	ID        json.Number `json:"t"`
	Price     string      `json:"p"`
	Quantity  string      `json:"q"`
	TradeTime int64       `json:"T"`
}

func (p *binanceProto) frame(s *feedSession, b []byte) error {
	var fr binanceFrame
	if err := json.Unmarshal(b, &fr); err != nil {
		s.malformed("not a JSON object: "+err.Error(), b)
		return nil
	}
	switch {
	case fr.Error != nil:
		return p.requestError(s, fr.Error.Code, fr.Error.Msg)
	case fr.Code != nil:
		return p.requestError(s, *fr.Code, fr.Msg)
	case len(fr.ID) > 0 && len(fr.Result) > 0:
		if string(fr.ID) == strconv.Itoa(binanceSubscribeID) && string(fr.Result) == "null" {
			s.setSubscribed()
		}
		return nil
	case fr.Event == "serverShutdown":
		return p.shutdown(s)
	case len(fr.Data) == 0:
		s.malformed("neither a stream event nor a request result", b)
		return nil
	}
	var t binanceTrade
	if err := json.Unmarshal(fr.Data, &t); err != nil {
		s.malformed("bad trade event: "+err.Error(), b)
		return nil
	}
	switch t.Event {
	case "trade":
	case "serverShutdown":
		return p.shutdown(s)
	default:
		return nil // another stream's event: not ours to normalise
	}
	seq, err := strconv.ParseInt(t.ID.String(), 10, 64)
	if err != nil || seq < 0 {
		s.malformed(fmt.Sprintf("trade id %q is not a non-negative integer", t.ID), b)
		return nil
	}
	price, qty, ok := s.priceSize(b, t.Price, t.Quantity, "quantity")
	if !ok {
		return nil
	}
	ts := t.TradeTime
	if ts == 0 {
		ts = t.EventTime
	}
	tick := stocklake.Tick{
		Symbol:  t.Symbol,
		Time:    feedEpoch(ts),
		Price:   price,
		Size:    qty,
		TradeID: t.ID.String(),
	}
	return s.trade(&tick, "", seq, fr.Data)
}

func (p *binanceProto) requestError(s *feedSession, code int, msg string) error {
	s.serverError(code, msg)
	if s.subscribed.Load() {
		return nil
	}
	return fatalf("binance rejected the subscription to %s (code %d: %s): check the symbols", strings.Join(p.f.cfg.Symbols, ","), code, msg)
}

func (p *binanceProto) shutdown(s *feedSession) error {
	s.f.log.Info("server announced a shutdown; reconnecting")
	return &feedError{err: errors.New("binance announced a server shutdown (serverShutdown event)")}
}

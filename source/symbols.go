package source

// symbolSpec describes one simulated instrument.
type symbolSpec struct {
	symbol  string
	listing string  // listing exchange MIC
	price   float64 // starting price, USD
	vol     float64 // annualised volatility
	weight  float64 // relative trading activity
}

// builtinSymbols are 50 liquid US stocks and ETFs with plausible starting
// prices, volatilities and relative activity. The simulator uses them in
// this order, so --symbols 10 gives the first ten.
var builtinSymbols = []symbolSpec{
	{"AAPL", "XNAS", 230.00, 0.25, 10},
	{"MSFT", "XNAS", 420.00, 0.22, 8},
	{"NVDA", "XNAS", 140.00, 0.50, 14},
	{"AMZN", "XNAS", 200.00, 0.30, 8},
	{"GOOGL", "XNAS", 170.00, 0.28, 6},
	{"META", "XNAS", 580.00, 0.35, 6},
	{"TSLA", "XNAS", 250.00, 0.60, 12},
	{"SPY", "ARCX", 590.00, 0.15, 10},
	{"QQQ", "XNAS", 500.00, 0.20, 8},
	{"AMD", "XNAS", 150.00, 0.50, 8},
	{"AVGO", "XNAS", 175.00, 0.45, 5},
	{"JPM", "XNYS", 230.00, 0.22, 3},
	{"V", "XNYS", 290.00, 0.18, 2},
	{"UNH", "XNYS", 560.00, 0.25, 2},
	{"XOM", "XNYS", 115.00, 0.25, 3},
	{"LLY", "XNYS", 850.00, 0.30, 2},
	{"MA", "XNYS", 510.00, 0.20, 1.5},
	{"JNJ", "XNYS", 155.00, 0.16, 2},
	{"PG", "XNYS", 170.00, 0.15, 1.5},
	{"HD", "XNYS", 400.00, 0.22, 1.5},
	{"COST", "XNAS", 900.00, 0.20, 1.5},
	{"ABBV", "XNYS", 185.00, 0.25, 1.5},
	{"WMT", "XNYS", 85.00, 0.18, 3},
	{"NFLX", "XNAS", 750.00, 0.38, 2},
	{"CRM", "XNYS", 300.00, 0.33, 2},
	{"BAC", "XNYS", 45.00, 0.25, 4},
	{"ORCL", "XNYS", 180.00, 0.35, 2.5},
	{"KO", "XNYS", 65.00, 0.14, 2},
	{"CVX", "XNYS", 155.00, 0.24, 2},
	{"PEP", "XNAS", 160.00, 0.16, 1.5},
	{"ADBE", "XNAS", 520.00, 0.32, 1.5},
	{"MRK", "XNYS", 100.00, 0.22, 2},
	{"CSCO", "XNAS", 58.00, 0.20, 3},
	{"TMO", "XNYS", 540.00, 0.22, 1},
	{"ACN", "XNYS", 360.00, 0.25, 1},
	{"LIN", "XNAS", 460.00, 0.18, 1},
	{"MCD", "XNYS", 300.00, 0.16, 1.5},
	{"INTC", "XNAS", 22.00, 0.45, 6},
	{"QCOM", "XNAS", 165.00, 0.35, 2.5},
	{"DIS", "XNYS", 95.00, 0.28, 2.5},
	{"IBM", "XNYS", 210.00, 0.24, 1.5},
	{"CAT", "XNYS", 390.00, 0.28, 1.5},
	{"GE", "XNYS", 180.00, 0.30, 1.5},
	{"AMGN", "XNAS", 320.00, 0.22, 1},
	{"PFE", "XNYS", 28.00, 0.22, 3.5},
	{"UBER", "XNYS", 75.00, 0.40, 3},
	{"PLTR", "XNAS", 40.00, 0.65, 6},
	{"IWM", "ARCX", 225.00, 0.22, 4},
	{"GLD", "ARCX", 240.00, 0.15, 2},
	{"XLF", "ARCX", 48.00, 0.18, 3},
}

// listingMICs are the listing exchanges of simulated symbols; index into
// venueWeights.
var listingMICs = []string{"XNAS", "XNYS", "ARCX"}

// venues are the trading venues a US trade can print on, with their base
// share of trades: lit exchanges plus the FINRA trade reporting facilities
// that carry off-exchange (dark pool, wholesaler) volume.
var venues = []struct {
	mic    string
	weight float64
}{
	{"FINN", 26}, // FINRA/Nasdaq TRF (off-exchange)
	{"FINY", 8},  // FINRA/NYSE TRF (off-exchange)
	{"XNAS", 13},
	{"XNYS", 8},
	{"ARCX", 6},
	{"BATS", 6},
	{"EDGX", 6},
	{"MEMX", 4},
	{"IEXG", 3},
	{"BATY", 2},
	{"EDGA", 1.5},
	{"XBOS", 1},
	{"XPSX", 0.5},
	{"XCIS", 0.5},
	{"XCHI", 0.5},
}

// listingBonus is the extra weight a symbol's listing exchange gets.
const listingBonus = 10

// generatedSymbol names the k-th symbol beyond the built-in list: "Z"
// followed by at least three letters (ZAAA, ZAAB, ...). No built-in symbol
// starts with Z, so the names never collide.
func generatedSymbol(k int) string {
	var buf [16]byte
	i := len(buf)
	for n := 0; n < 3 || k > 0; n++ {
		i--
		buf[i] = byte('A' + k%26)
		k /= 26
	}
	i--
	buf[i] = 'Z'
	return string(buf[i:])
}

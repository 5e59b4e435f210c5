//go:build race

package road

// raceEnabled is true under the race detector, which allocates: allocation
// tests skip then.
const raceEnabled = true

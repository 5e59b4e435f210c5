//go:build race

package fast

// raceEnabled is true under the race detector, which makes the long
// simulated transfers several times slower: they run shorter then.
const raceEnabled = true

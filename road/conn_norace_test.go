//go:build !race

package road

const raceEnabled = false

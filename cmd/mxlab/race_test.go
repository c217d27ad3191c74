//go:build race

package main

// raceEnabled: this test binary runs under the race detector, which
// multiplies the memory a process uses.
const raceEnabled = true

package main

import (
	"os"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

// envKey is the API key from the environment.
func envKey() string { return os.Getenv("ORCA_KEY") }

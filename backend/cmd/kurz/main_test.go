package main

import (
	"testing"

	"github.com/kurzlink/kurz/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

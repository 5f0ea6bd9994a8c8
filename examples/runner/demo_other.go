//go:build !linux

package main

import (
	"errors"
	"io"
	"time"

	"github.com/faultkit/faultkit/experiment"
	"github.com/faultkit/faultkit/fault"
)

const (
	demoProbeEvery = 20 * time.Millisecond
	demoBaseline   = time.Second
)

// demoNet needs Linux network namespaces.
type demoNet struct{ nameA, nameB, addrA, addrB, echo string }

func newDemoNet(*fault.Journal) (*demoNet, error) {
	return nil, errors.New("demo network: Linux network namespaces are needed")
}

func (d *demoNet) Target() experiment.Target             { return experiment.Target{} }
func (d *demoNet) startProbe()                           {}
func (d *demoNet) stopProbe()                            {}
func (d *demoNet) recent() string                        { return "" }
func (d *demoNet) summary(io.Writer, *experiment.Report) {}
func (d *demoNet) Close() error                          { return nil }

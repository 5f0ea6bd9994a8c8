// Command fakeagent stands in for amazon-ssm-agent in tests. It accepts the
// real agent's registration flags, registers against the ssmtest fake SSM
// endpoint with the anonymous RegisterManagedInstance call, and writes the
// registration file exactly as the real agent does:
// {"ManagedInstanceID":"mi-...","Region":"..."}. Without -register it runs
// until SIGTERM or SIGINT. Its behaviour is steered by the FAKEAGENT_*
// variables documented in package ssmtest.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/faultkit/faultkit/ssmreg/ssmtest"
)

func main() {
	fs := flag.NewFlagSet("amazon-ssm-agent", flag.ContinueOnError)
	register := fs.Bool("register", false, "register with an activation")
	code := fs.String("code", "", "activation code")
	id := fs.String("id", "", "activation ID")
	region := fs.String("region", "", "region")
	yes := fs.Bool("y", false, "override an existing registration")
	clr := fs.Bool("clear", false, "clear the registration")
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(1)
	}
	switch {
	case *version:
		fmt.Println("SSM Agent version: 0.0.0-fake")
	case *clr:
		if err := os.Remove(os.Getenv(ssmtest.EnvAgentRegistration)); err != nil && !errors.Is(err, os.ErrNotExist) {
			fail("clear: %v", err)
		}
	case *register:
		doRegister(*code, *id, *region, *yes)
	default:
		run()
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fakeagent: "+format+"\n", args...)
	os.Exit(1)
}

func event(format string, args ...any) {
	path := os.Getenv(ssmtest.EnvAgentLog)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fail("log: %v", err)
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

func doRegister(code, id, region string, yes bool) {
	if code == "" || id == "" || region == "" {
		fail("-register needs -code, -id and -region")
	}
	if os.Getenv(ssmtest.EnvAgentRegisterFail) == "1" {
		fail("registration failed for activation code %s", code)
	}
	path := os.Getenv(ssmtest.EnvAgentRegistration)
	if path == "" {
		fail("%s not set", ssmtest.EnvAgentRegistration)
	}
	if _, err := os.Stat(path); err == nil && !yes {
		fail("instance already registered; use -y to override")
	}
	instanceID, err := registerManagedInstance(code, id)
	if err != nil {
		fail("RegisterManagedInstance: %v", err)
	}
	b, _ := json.Marshal(struct {
		ManagedInstanceID string `json:"ManagedInstanceID"`
		Region            string `json:"Region"`
	}{instanceID, region})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		fail("write registration: %v", err)
	}
	event("register %s %s", instanceID, region)
	fmt.Printf("Successfully registered the instance with AWS SSM using Managed instance-id: %s\n", instanceID)
}

func registerManagedInstance(code, id string) (string, error) {
	endpoint := os.Getenv(ssmtest.EnvAgentEndpoint)
	if endpoint == "" {
		b := make([]byte, 9)
		_, _ = rand.Read(b)
		return "mi-" + hex.EncodeToString(b)[:17], nil
	}
	body, _ := json.Marshal(map[string]string{
		"ActivationCode": code, "ActivationId": id,
		"PublicKey": "ZmFrZS1wdWJsaWMta2V5", "PublicKeyType": "Rsa", "Fingerprint": "fake-fingerprint",
	})
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.RegisterManagedInstance")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, out)
	}
	var r struct{ InstanceId string }
	if err := json.Unmarshal(out, &r); err != nil || r.InstanceId == "" {
		return "", fmt.Errorf("bad response %s", out)
	}
	return r.InstanceId, nil
}

func run() {
	pid := os.Getpid()
	sigs := make(chan os.Signal, 1)
	if os.Getenv(ssmtest.EnvAgentIgnoreTerm) == "1" {
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(sigs, syscall.SIGINT)
	} else {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	}
	event("start %d", pid)
	fmt.Println("fakeagent: started")
	if v := os.Getenv(ssmtest.EnvAgentExit); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil {
			fail("%s=%q: %v", ssmtest.EnvAgentExit, v, err)
		}
		event("exit %d %d", pid, code)
		os.Exit(code)
	}
	s := <-sigs
	if s == syscall.SIGTERM {
		event("term %d", pid)
	}
	event("exit %d 0", pid)
	fmt.Println("fakeagent: stopped")
}

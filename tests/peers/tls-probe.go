// tls-probe: one HTTPS GET with Go's own TLS stack and certificate verifier (crypto/x509), for
// tests/it/tls_clients.rs. Trust comes from the environment, as for any Go program on Linux:
// SSL_CERT_FILE=<authtap certs>/ca.pem. Prints the HTTP status, or ERR and the error.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tls-probe URL")
		os.Exit(2)
	}
	resp, err := http.Get(os.Args[1])
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
}

#!/bin/sh
# $BROWSER for clients that open the authorization URL in "the browser": runs the headless
# navigator next to this file with the same Node (see headless-browser.mjs).
exec node "$(dirname "$0")/headless-browser.mjs" "$@"

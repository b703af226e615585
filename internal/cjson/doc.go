// Package cjson holds what midge's tools share to print JSON byte for byte
// as the cJSON library inside Mosquitto's tools prints it.
package cjson

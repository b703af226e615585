// Package cjson holds what midge's tools and the dynamic security plugin
// share to read and print JSON as the cJSON library inside Mosquitto reads
// and prints it.
package cjson

package main

import (
	"fmt"
	"text/tabwriter"
)

// ctlOrders prints GET /api/orders: each async route's purchase queue.
func ctlOrders(c *ctlClient, args []string) error {
	if err := noArgs("orders", args); err != nil {
		return err
	}
	var list []struct {
		Route       string `json:"route"`
		Durable     bool   `json:"durable"`
		Waiting     int    `json:"waiting"`
		InDelivery  int    `json:"in_delivery"`
		Delivered   uint64 `json:"delivered"`
		SoldOut     uint64 `json:"sold_out"`
		Expired     uint64 `json:"expired"`
		Failed      uint64 `json:"failed"`
		Rate        string `json:"rate"`
		Concurrency int    `json:"concurrency"`
	}
	if printed, err := c.call("GET", "/api/orders", nil, &list); printed || err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(c.out, "no async route in the rules")
		return nil
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ROUTE\tWAITING\tIN DELIVERY\tDELIVERED\tSOLD OUT\tEXPIRED\tFAILED\tRATE\tCONCURRENCY\tQUEUE\t")
	for _, o := range list {
		where := "memory"
		if o.Durable {
			where = "redis"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\t\n", o.Route, o.Waiting, o.InDelivery,
			o.Delivered, o.SoldOut, o.Expired, o.Failed, o.Rate, o.Concurrency, where)
	}
	tw.Flush()
	return nil
}

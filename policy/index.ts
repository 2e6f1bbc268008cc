// The policy pack: `pulumi preview --policy-pack policy` (install its packages first: npm install --prefix policy).
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("erpdc", { policies });

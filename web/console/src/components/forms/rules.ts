// Client-side checks mirroring the server's form constraints (huigong_events.forms), so a person
// sees the problem on the field before sending; the server checks again and its messages are
// shown on the same fields.

import type { FormItemRule } from "element-plus";

const CREDIT_CODE = /^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

export function required(label: string, max: number): FormItemRule[] {
  return [
    { required: true, whitespace: true, message: `请填写${label}`, trigger: "blur" },
    { max, message: `${label}不得超过 ${max} 个字`, trigger: "blur" },
  ];
}

export const NAME = 100;
export const SHORT = 500;
export const LONG = 10_000;

export function creditCode(label: string): FormItemRule[] {
  return [
    { required: true, message: `请填写${label}`, trigger: "blur" },
    {
      validator: (_rule, value: unknown, callback) => {
        const text = typeof value === "string" ? value.trim().toUpperCase() : "";
        if (text && !CREDIT_CODE.test(text)) callback(new Error("统一社会信用代码为 18 位数字或大写字母"));
        else callback();
      },
      trigger: "blur",
    },
  ];
}

export function pick(label: string): FormItemRule[] {
  return [{ required: true, message: `请选择${label}`, trigger: "change" }];
}

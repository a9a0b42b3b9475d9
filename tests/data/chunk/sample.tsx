import React from "react";

export const Button = ({ label }: { label: string }) => {
  return <button>{label}</button>;
};

export function App(): JSX.Element {
  return <Button label="hi" />;
}
